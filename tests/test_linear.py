"""Backbone ``linear`` and the new representations in whole runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mirplug_builtin.backbones.linear import Linear


def test_linear_passes_clip_vectors_and_pools_frames() -> None:
    clip = Linear(input_shape=(7,))
    vectors = torch.randn(5, 7)
    assert clip.embedding_dim == 7
    assert torch.equal(clip(vectors), vectors)  # standardization happens before, in MirModel
    pooled = Linear(input_shape=(3, 10))
    frames = torch.arange(60, dtype=torch.float32).reshape(2, 3, 10)
    pooled.eval()  # running statistics start at mean 0, variance 1: the output is the pooled statistics
    out = pooled(frames)
    assert pooled.embedding_dim == 6 and out.shape == (2, 6)
    assert torch.allclose(out[0, :3], torch.tensor([4.5, 14.5, 24.5]), atol=1e-3)
    assert torch.allclose(out[0, 3:], torch.full((3,), 2.8723), atol=1e-3)
    assert not [p for p in pooled.parameters() if p.requires_grad]  # all trainable weights are in the head


@pytest.mark.parametrize("representation", ["cqt", "chroma"])
def test_runs_with_the_new_representations(representation: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from mirplug.catalog import load_catalog
    from mirplug.config import resolve
    from mirplug.runner import run

    monkeypatch.setenv("MIRPLUG_CACHE_DIR", str(tmp_path / "cache"))
    catalog = load_catalog()
    config = resolve(catalog, ["task=genre", f"representation={representation}", "backbone=linear",
                               "data.clips_per_class=4", "data.seconds=1.0", "data.clip_seconds=1.0",
                               "train.epochs=2", f"out={tmp_path / 'runs'}"])
    result = run(config, catalog)
    assert result.metrics["n_test"] == 6 and result.metrics["epochs_run"] == 2
    assert (result.folder / "model.safetensors").exists()
