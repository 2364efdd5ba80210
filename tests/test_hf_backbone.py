"""Backbone ``hf`` with tiny random transformers models saved into temporary folders (no downloads)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"
# remote code (the MERT-like test model) is copied into a modules cache: keep it out of ~/.cache
os.environ.setdefault("HF_MODULES_CACHE", tempfile.mkdtemp(prefix="mirplug-hf-modules-"))
pytest.importorskip("transformers", reason="the hf extra: pip install 'mirplug[hf]'")
sys.path.insert(0, str(Path(__file__).parent))

from hf_tiny import FAMILIES, save_remote_code_model, save_tiny  # noqa: E402
from mirplug.errors import ConfigError  # noqa: E402
from mirplug_builtin.backbones.hf import HFBackbone  # noqa: E402

RUN = ["task=genre", "backbone=hf", "data.clips_per_class=6", "data.seconds=1.0", "data.clip_seconds=1.0",
       "train.epochs=1", "train.batch_size=8"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every family saved once for the module."""
    root = tmp_path_factory.mktemp("hf")
    return {family: save_tiny(family, root / family) for family in FAMILIES}


def _run(tmp_path: Path, name: str, *overrides: str):
    from mirplug.catalog import load_catalog
    from mirplug.config import resolve
    from mirplug.runner import run

    os.environ["MIRPLUG_CACHE_DIR"] = str(tmp_path.parent / "cache")
    catalog = load_catalog()
    return run(resolve(catalog, [*RUN, f"out={tmp_path}", f"name={name}", *overrides]), catalog)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_loads_by_path_and_embeds(tiny: dict[str, Path], family: str) -> None:
    rate = HFBackbone.input_sample_rate({"model": str(tiny[family])})
    assert rate == (48000 if family == "clap" else 16000)
    backbone = HFBackbone((1, rate), float(rate), model=str(tiny[family]), layer="1", pooling="max").eval()
    waves = torch.randn(2, 1, rate) * 0.1
    with torch.no_grad():
        first, again = backbone(waves), backbone(waves)
    assert first.shape == (2, 32)
    assert torch.equal(first, again)
    assert backbone.frozen and not any(p.requires_grad for p in backbone.parameters())
    if family == "clap":  # the swin stages of CLAP's audio tower differ in width
        with pytest.raises(ConfigError, match=r"widths \[16, 32, 32\]; choose one layer 0\.\.2"):
            HFBackbone((1, rate), float(rate), model=str(tiny[family]), layer="all", mode="probe")
    else:
        probe = HFBackbone((1, rate), float(rate), model=str(tiny[family]), layer="all", mode="probe",
                           pooling="attention")
        trainable = {name for name, p in probe.named_parameters() if p.requires_grad}
        assert trainable == {"layer_weights", "attention.score.weight", "attention.score.bias"}
        assert probe.layer_weights.shape == (3,)  # embeddings + 2 layers


def test_layer_out_of_range_names_the_valid_range(tiny: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match=r"backbone.layer=3 is out of range: .* has hidden states 0\.\.2"):
        HFBackbone((1, 16000), 16000.0, model=str(tiny["wav2vec2"]), layer="3")
    with pytest.raises(ConfigError, match="use backbone.mode=probe"):
        HFBackbone((1, 16000), 16000.0, model=str(tiny["wav2vec2"]), layer="all", mode="frozen")


def test_remote_code_is_refused_unless_trusted(tmp_path: Path) -> None:
    folder = save_remote_code_model(tmp_path / "mert")
    with pytest.raises(ConfigError, match="pass backbone.trust_remote_code=true"):
        HFBackbone.input_sample_rate({"model": str(folder)})
    with pytest.raises(ConfigError, match="pass backbone.trust_remote_code=true"):
        HFBackbone((1, 16000), 16000.0, model=str(folder))
    trusted = HFBackbone((1, 16000), 16000.0, model=str(folder), trust_remote_code=True, layer="2")
    assert type(trusted.encoder).__name__ == "MERTModel"  # the model's own class, from its own code
    with torch.no_grad():
        assert trusted(torch.randn(2, 1, 16000) * 0.1).shape == (2, 32)


def test_a_model_not_cached_offline_says_how_to_get_it() -> None:
    with pytest.raises(ConfigError, match="huggingface-cli download someone/not-cached-model"):
        HFBackbone.input_sample_rate({"model": "someone/not-cached-model"})


def test_short_windows_are_padded_with_one_warning(tiny: dict[str, Path]) -> None:
    backbone = HFBackbone((1, 100), 16000.0, model=str(tiny["wav2vec2"]))
    assert backbone.min_samples == 45  # (10 - 1) * 5 ... receptive field of kernels (10, 8), strides (5, 4)
    with pytest.warns(UserWarning, match="zero-padding"):
        with torch.no_grad():
            assert backbone(torch.randn(2, 1, 20)).shape == (2, 32)


def test_runs_in_frozen_probe_and_finetune_modes(tiny: dict[str, Path], tmp_path: Path) -> None:
    from safetensors.torch import load_file

    model = str(tiny["wav2vec2"])
    original = load_file(str(tiny["wav2vec2"] / "model.safetensors"))
    key = "encoder.layers.0.attention.q_proj.weight"

    frozen = _run(tmp_path, "frozen", f"backbone.model={model}")
    probe = _run(tmp_path, "probe", f"backbone.model={model}", "backbone.mode=probe", "backbone.layer=all",
                 "backbone.pooling=attention", "backbone.head=mlp")
    finetune = _run(tmp_path, "finetune", f"backbone.model={model}", "backbone.mode=finetune")
    lora = _run(tmp_path, "lora", f"backbone.model={model}", "backbone.mode=finetune", "backbone.lora=true")
    for result in (frozen, probe, finetune, lora):
        assert result.metrics["n_train"] == 6 * 6 - result.metrics["n_validation"] - result.metrics["n_test"]
        assert result.metrics["epochs_run"] == 1
    saved = {name: load_file(str(r.folder / "model.safetensors")) for name, r in
             (("frozen", frozen), ("probe", probe), ("finetune", finetune))}
    assert torch.equal(saved["frozen"][f"backbone.encoder.{key}"], original[key])
    assert torch.equal(saved["probe"][f"backbone.encoder.{key}"], original[key])
    assert not torch.equal(saved["finetune"][f"backbone.encoder.{key}"], original[key])
    assert any("lora_A" in name for name in load_file(str(lora.folder / "model.safetensors")))


def test_clap_runs_at_its_own_sample_rate(tiny: dict[str, Path], tmp_path: Path) -> None:
    result = _run(tmp_path, "clap", f"backbone.model={tiny['clap']}", "backbone.layer=2")
    assert result.metrics["epochs_run"] == 1
    assert (result.folder / "model.safetensors").is_file()
