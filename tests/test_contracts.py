"""Every built-in component passes the contract checks of :mod:`mirplug.testing`.

Also checks that the checks themselves catch broken components (a checker that passes
everything would make this file worthless).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torchaudio

from mirplug.catalog import Catalog, load_catalog
from mirplug.components import Representation, Transform
from mirplug.specs import AugmenterSpec, RepresentationSpec
from mirplug.testing import (
    FAIL,
    assert_component_passes,
    check_augmenter,
    check_component,
    check_representation,
    check_spec,
)

CATALOG = load_catalog()
BUILTIN = [(kind, entry.spec.name) for kind in ("representation", "backbone", "augmenter", "task", "dataset")
           for entry in CATALOG.all(kind) if CATALOG.host.plugins[entry.plugin].builtin]


def audio_folder(root: Path) -> Path:
    """Two labels of six short WAV files each (sine vs. noise), in the audiofolder layout."""
    import soundfile

    rng = np.random.default_rng(0)
    time = np.arange(8000) / 8000
    for label in ("sine", "noise"):
        (root / label).mkdir(parents=True)
        for index in range(6):
            wave = (0.5 * np.sin(2 * np.pi * (220 + 40 * index) * time) if label == "sine"
                    else 0.3 * rng.standard_normal(len(time)))
            soundfile.write(root / label / f"{label}{index}.wav", wave.astype(np.float32), 8000)
    return root


def test_every_builtin_kind_is_covered() -> None:
    assert {kind for kind, _ in BUILTIN} == {"representation", "backbone", "augmenter", "task", "dataset"}
    assert ("dataset", "audiofolder") in BUILTIN and ("task", "genre") in BUILTIN


@pytest.mark.parametrize(("kind", "name"), BUILTIN, ids=[f"{k}-{n}" for k, n in BUILTIN])
def test_builtin_component_passes_its_contract(kind: str, name: str, tmp_path: Path) -> None:
    options: dict[str, Any] | None = None
    if (kind, name) == ("dataset", "audiofolder"):
        options = {"path": str(audio_folder(tmp_path / "audio"))}
    if (kind, name) == ("augmenter", "impulse_response"):
        import soundfile

        (tmp_path / "irs").mkdir()
        for index, decay in enumerate((200.0, 800.0)):  # two short exponentially decaying noise bursts
            burst = np.random.default_rng(index).standard_normal(1600) * np.exp(-np.arange(1600) / decay)
            soundfile.write(tmp_path / "irs" / f"room{index}.wav", burst.astype(np.float32), 16000)
        options = {"path": str(tmp_path / "irs")}
    if (kind, name) == ("backbone", "hf"):
        pytest.importorskip("transformers")
        from hf_tiny import save_tiny

        options = {"model": str(save_tiny("wav2vec2", tmp_path / "tiny-wav2vec2")), "mode": "finetune"}
    if (kind, name) == ("backbone", "musicnn"):
        pytest.importorskip("musicnn")
    if (kind, name) == ("dataset", "manifest"):
        root = audio_folder(tmp_path / "audio")
        rows = [f"{p.relative_to(root)},{p.parent.name}" for p in sorted(root.rglob("*.wav"))]
        (root / "manifest.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
        options = {"path": str(root / "manifest.csv")}
    if (kind, name) == ("dataset", "hub"):
        from mirplug_builtin.datasets.audiofolder import load as load_folder

        saved = load_folder(str(audio_folder(tmp_path / "audio")))
        saved = saved.add_column("synthetic", [index % 6 == 5 for index in range(len(saved))])
        saved.save_to_disk(str(tmp_path / "saved"))
        options = {"path": str(tmp_path / "saved"), "synthetic": "include"}
    results = assert_component_passes(kind, name, CATALOG, options, tmp_path)
    assert [r for r in results if r.status == "skip"] == []
    checks = {r.check for r in results}
    assert {"name", "summary", "license", "factory", "options"} <= checks
    expected = {
        "representation": {"shape and dtype", "no NaN", "deterministic", "batch equals items"},
        "backbone": {"shape and dtype", "no NaN", "deterministic", "batch equals items", "gradients flow"},
        "augmenter": ({"fits", "samples labelled waveforms", "seeded reproducibility", "save/load round trip"}
                      if kind == "augmenter" and CATALOG.get("augmenter", name).stage == "generator"
                      else {"fits", "samples labelled rows with provenance", "seeded reproducibility"}
                      if kind == "augmenter" and CATALOG.get("augmenter", name).stage == "embeddings"
                      else {"seeded reproducibility", "output length and dtype", "output range"}),
        "task": {"tiny end-to-end run"},
        "dataset": {"loads with audio and id columns", "tiny end-to-end run"},
    }[kind]
    assert expected <= checks


def test_fixture_checks_a_component(mirplug_check: Any, mirplug_catalog: Catalog) -> None:
    assert "mel" in mirplug_catalog.names("representation")
    results = mirplug_check("representation", "mfcc", {"n_mfcc": 13})
    assert next(r.detail for r in results if r.check == "shape and dtype") == "(3, 13, 51) float32"


class NaNFeature(Representation):
    """Broken on purpose: log of silence is -inf, and every call adds fresh noise."""

    frame_rate = 50.0

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        frames = waveform.reshape(waveform.shape[0], 1, -1)[:, :, ::320]
        return torch.log(frames.abs()) + torch.rand_like(frames)


class BatchMixer(Representation):
    """Broken on purpose: each example's output depends on the rest of the batch."""

    frame_rate = None

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return (waveform - waveform.mean()).pow(2).mean(dim=1, keepdim=True).double()


class UnseededNoise(Transform):
    """Broken on purpose: draws from torch's global generator, not from ``rng``, and grows the input."""

    def sample_parameters(self, example: torch.Tensor, rng: np.random.Generator) -> dict[str, Any]:
        return {}

    def apply(self, example: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        return torch.cat([example, 100.0 * torch.randn(10)])


def failed(results: list[Any]) -> dict[str, str]:
    return {r.check: r.detail for r in results if r.status == FAIL}


def test_checks_catch_a_nondeterministic_representation_with_nan() -> None:
    spec = RepresentationSpec(name="nanfeat", summary="broken", factory=NaNFeature, license="MIT")
    problems = failed(check_representation(spec))
    assert problems == {"no NaN on silence": "output on silence contains NaN or infinity",
                        "deterministic": problems["deterministic"], "batch equals items": problems["batch equals items"]}
    assert problems["deterministic"].startswith("two calls on the same input: outputs differ by up to")


def test_checks_catch_dtype_and_batch_dependence() -> None:
    spec = RepresentationSpec(name="mixer", summary="broken", factory=BatchMixer, license="MIT")
    assert failed(check_representation(spec)) == {"shape and dtype": "output has dtype torch.float64, not torch.float32"}


class BatchFloorMFCC(Representation):
    """torchaudio's MFCC: its 80 dB floor is taken below the loudest clip of the whole batch."""

    frame_rate = 50.0

    def __init__(self) -> None:
        super().__init__()
        self.mfcc = torchaudio.transforms.MFCC(sample_rate=16000, n_mfcc=20, log_mels=False,
                                               melkwargs={"n_fft": 512, "hop_length": 320, "n_mels": 64})

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.mfcc(waveform)


def test_checks_catch_a_floor_taken_over_the_batch() -> None:
    spec = RepresentationSpec(name="batchfloor", summary="broken", factory=BatchFloorMFCC, license="MIT")
    problems = failed(check_representation(spec))
    assert list(problems) == ["batch equals items"]
    assert problems["batch equals items"].startswith("batch vs items one by one: outputs differ by up to")


def test_checks_catch_an_unseeded_augmenter() -> None:
    spec = AugmenterSpec(name="unseeded", summary="broken", factory=UnseededNoise, license="MIT", stage="waveform")
    assert failed(check_augmenter(spec, CATALOG)) == {"seeded reproducibility": "the same seed gave different outputs"}


class IgnoresItsDraw(Transform):
    """Broken on purpose: draws a gain from ``rng`` and never uses it."""

    def sample_parameters(self, example: torch.Tensor, rng: np.random.Generator) -> dict[str, Any]:
        return {"gain": float(rng.uniform(0.5, 1.0))}

    def apply(self, example: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        return example * 0.5


def test_checks_catch_drawn_parameters_that_change_nothing() -> None:
    spec = AugmenterSpec(name="ignores", summary="broken", factory=IgnoresItsDraw, license="MIT", stage="waveform")
    assert failed(check_augmenter(spec, CATALOG)) == {
        "varies with the seed": "eight different seeds gave the same output; the transform ignores its rng"}


def test_spec_metadata_checks() -> None:
    spec = RepresentationSpec(name="bad:name", summary=" ", factory="no_such_module_xyz:thing")
    assert failed(check_spec(spec)) == {
        "name": "name 'bad:name' must be letters, digits, '_', '-' or '.' (no ':', '=', ',' or spaces)",
        "summary": "summary is empty; say in one line what the component does",
        "license": "license is not set; give an SPDX identifier such as 'MIT'",
        "factory": ("PluginError: representation 'bad:name' cannot be loaded from no_such_module_xyz:thing: "
                    "ModuleNotFoundError: No module named 'no_such_module_xyz'; reinstall the plugin that provides it"),
    }


def test_check_component_rejects_unknown_kind() -> None:
    from mirplug.errors import MirplugError

    with pytest.raises(MirplugError, match="unknown kind 'feature'; choose one of: representation, backbone"):
        check_component("feature", "mel", CATALOG)


def test_validate_command_prints_a_table_and_exits_by_result() -> None:
    from typer.testing import CliRunner

    from mirplug.cli import app

    result = CliRunner().invoke(app, ["validate", "backbones"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "contract checks of plugin 'backbones'" in result.output
    assert re.search(r"\n\d+ passed, 0 failed, 1 skipped", result.output)  # hf needs a model to check
    unknown = CliRunner().invoke(app, ["validate", "nosuchplugin"])
    assert unknown.exit_code == 1
    installed = ", ".join(sorted(CATALOG.host.plugins))
    assert str(unknown.exception) == f"no plugin called 'nosuchplugin' is installed; installed plugins: {installed}"
    assert "augmenters, backbones, datasets" in installed
