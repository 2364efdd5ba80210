"""backbone=fused: frozen backbones and pooled representations side by side, each part cached on its own."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mirplug import cache
from mirplug.config import resolve
from mirplug.errors import ConfigError
from mirplug.probe import ProbeData, ProbeHead, fit_probe
from mirplug_builtin.backbones.fused import Fused, PooledRepresentation
from mirplug_builtin.representations.chroma import Chroma
from mirplug_builtin.representations.mfcc import MFCC

from test_probe import genre_task, write_tones


def waves(n: int = 4, seconds: float = 0.5, rate: int = 16000) -> torch.Tensor:
    t = torch.arange(int(seconds * rate)) / rate
    return torch.stack([0.3 * torch.sin(2 * torch.pi * (200 + 150 * i) * t) for i in range(n)]).unsqueeze(1)


def test_the_parts_are_pooled_and_concatenated_in_order():
    fused = Fused(input_shape=(1, 8000), parts="mfcc+chroma")
    x = waves()
    mfcc, chroma = PooledRepresentation(MFCC(), 16000), PooledRepresentation(Chroma(), 16000)
    expected = torch.cat([mfcc(x), chroma(x)], dim=1)
    assert fused.part_dims == [2 * 20, 2 * 12] and fused.embedding_dim == 64
    torch.testing.assert_close(fused(x), expected)
    assert [name for name, _, _ in fused.parts()] == ["mfcc", "chroma"]
    assert fused.frozen and fused.head_kind == "probe"


def test_the_probe_standardises_every_part_whatever_its_scale():
    """Parts whose values differ by orders of magnitude each come out with unit spread per dimension."""
    rng = np.random.default_rng(0)
    labels = np.arange(40) % 2
    big = rng.normal(1e4, 5e3, (40, 3)) + 1e4 * labels[:, None]
    small = rng.normal(0.0, 1e-3, (40, 2))
    x = np.concatenate([big, small], axis=1)
    head = ProbeHead(5, 2)
    fit_probe(head, genre_task(), ProbeData(x[:30], labels[:30], np.arange(30), labels[:30]),
              ProbeData(x[30:], labels[30:], np.arange(10), labels[30:]), ["a", "b"], seed=0)
    standardised = (torch.as_tensor(x, dtype=torch.float32) - head.mean) / head.scale
    torch.testing.assert_close(standardised.std(0, unbiased=False), torch.ones(5), atol=1e-3, rtol=1e-3)


def test_each_part_is_cached_on_its_own(catalog, tmp_path):
    from mirplug.runner import run

    data = write_tones(tmp_path / "tones", per_class=6)

    def fused(parts: str, name: str):
        return run(resolve(catalog, ["task=genre", "data=audiofolder", f"data.path={data}", "data.clip_seconds=0.5",
                                     "backbone=fused", f"backbone.parts={parts}", f"out={tmp_path}", f"name={name}"]),
                   catalog)

    cache.STATS.clear()
    first = fused("mfcc+chroma", "first")
    clips = first.metrics["n_train"] + first.metrics["n_validation"] + first.metrics["n_test"]
    assert cache.STATS["embeddings_computed"] == 2 * clips and cache.STATS["embeddings_loaded"] == 0
    cache.STATS.clear()
    fused("mfcc+mel", "second")  # mfcc from the cache, mel computed
    assert cache.STATS["embeddings_loaded"] == clips and cache.STATS["embeddings_computed"] == clips
    assert first.metrics["accuracy"] >= 0.9


def test_a_part_must_be_a_frozen_audio_backbone_or_a_representation():
    with pytest.raises(ConfigError, match="neither a backbone nor a representation"):
        Fused(input_shape=(1, 8000), parts="mfcc+nope")
    with pytest.raises(ConfigError, match="does not take raw audio"):
        Fused(input_shape=(1, 8000), parts="cnn")
    with pytest.raises(ConfigError, match="twice"):
        Fused(input_shape=(1, 8000), parts="mfcc+mfcc")
