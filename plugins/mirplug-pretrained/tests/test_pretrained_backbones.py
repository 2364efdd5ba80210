"""vggish, yamnet, openl3 and panns: loading the published files, contracts, framing, ports against upstream, runs.

The weights are random tensors in the published layouts (``published_layouts.py``): the loading code
is the real one, the numbers are not the trained model's. ``fixtures/reference.npz`` holds what the
upstream implementations (torchvggish's numpy front end, torchopenl3, panns-inference + torchlibrosa)
computed with the same random tensors (``fixtures/make_reference.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from pretrained_support import TINY, cache_folder, private_dirs, torch_home, weights  # noqa: F401
from published_layouts import (REFERENCE_SEED, cnn14_layout, kapre_front_end, openl3_layout, random_state,
                               reference_waveforms, torchlibrosa_front_end)

from mirplug.errors import ConfigError
from mirplug.testing import assert_component_passes

FIXTURE = Path(__file__).parent / "fixtures" / "reference.npz"
MIRPLUG = str(Path(sys.executable).parent / "mirplug")
# fast settings: openl3 on mel128 with one frame per second of audio
FAST = {"vggish": {}, "yamnet": {}, "openl3": {"input_repr": "mel128", "hop_seconds": 0.5}, "panns": {}}
RATES = {"vggish": 16000, "yamnet": 16000, "openl3": 48000, "panns": 32000}


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as data:
        return {key: data[key] for key in data.files}


def build(name: str, seconds: float = 1.0, **options):
    from mirplug.catalog import load_catalog

    rate = RATES[name]
    spec = load_catalog().get("backbone", name)
    return spec.build({**spec.option_defaults(), **FAST[name], **options}, input_shape=(1, int(seconds * rate)),
                      frame_rate=float(rate)).eval()


@pytest.mark.parametrize("name", ["vggish", "yamnet", "openl3", "panns"])
def test_each_backbone_passes_the_contract_on_its_published_file_layout(weights: Path, name: str) -> None:
    results = assert_component_passes("backbone", f"pretrained:{name}", options=FAST[name])
    checks = {r.check: r.status for r in results}
    assert checks["shape and dtype"] == checks["deterministic"] == checks["batch equals items"] == "pass"
    assert checks["gradients flow"] == "pass"  # "frozen by design"


def test_finetune_mode_trains_the_network_and_keeps_the_front_end_fixed(weights: Path) -> None:
    results = assert_component_passes("backbone", "pretrained:yamnet", options={"mode": "finetune"})
    assert {r.check: r.detail for r in results}["gradients flow"].endswith("parameter tensor(s) get gradients")
    frozen = build("yamnet")
    assert frozen.frozen and not any(p.requires_grad for p in frozen.parameters())
    tuned = build("panns", mode="finetune")
    trainable = {name for name, p in tuned.named_parameters() if p.requires_grad}
    assert "net.fc1.weight" in trainable and "net.conv_block1.conv1.weight" in trainable
    assert not {"net.logmel_extractor.melW", "net.spectrogram_extractor.stft.conv_real.weight"} & trainable
    tuned.train()
    assert tuned.net.training
    frozen.train()
    assert not frozen.net.training  # the checkpoint's batch-norm statistics stay in use


def test_embedding_sizes_and_layers(weights: Path) -> None:
    wave = torch.from_numpy(reference_waveforms(16000, 1.0)).unsqueeze(1)
    with torch.no_grad():
        assert build("vggish")(wave).shape == (2, 128)
        assert build("vggish", layer="fc1")(wave).shape == (2, 4096)
        assert build("yamnet")(wave).shape == (2, 1024)
        scores = build("yamnet", layer="scores")(wave)
        assert scores.shape == (2, 521) and bool(((scores >= 0) & (scores <= 1)).all())
        wave32 = torch.from_numpy(reference_waveforms(32000, 1.0)).unsqueeze(1)
        assert build("panns")(wave32).shape == (2, 2048)
        clipwise = build("panns", layer="clipwise")(wave32)
        assert clipwise.shape == (2, 527) and bool(((clipwise >= 0) & (clipwise <= 1)).all())
        wave48 = torch.from_numpy(reference_waveforms(48000, 1.0)).unsqueeze(1)
        assert build("openl3", embedding_dim=6144)(wave48).shape == (2, 6144)


def test_frame_rates_patch_counts_and_timestamps(weights: Path) -> None:
    two_seconds = {name: torch.zeros(1, 1, 2 * rate) for name, rate in RATES.items()}
    vggish, yamnet = build("vggish", 2.0), build("yamnet", 2.0)
    openl3 = build("openl3", 2.0, hop_seconds=0.1)
    with torch.no_grad():
        # 198 frames of 10 ms: two whole 96-frame patches; yamnet pads to 4 patches every 48 frames
        assert vggish.frames(two_seconds["vggish"]).shape == (1, 2, 128)
        assert yamnet.frames(two_seconds["yamnet"]).shape == (1, 4, 1024)
        # 2 s + 0.5 s of centring zeros, 1 s frames every 0.1 s
        assert openl3.frames(two_seconds["openl3"]).shape == (1, 16, 512)
    assert (vggish.frame_rate, yamnet.frame_rate, openl3.frame_rate) == (1 / 0.96, 1 / 0.48, 1 / 0.1)
    assert vggish.timestamps(2).tolist() == pytest.approx([0.48, 1.44])
    assert yamnet.timestamps(3).tolist() == pytest.approx([0.48, 0.96, 1.44])
    assert openl3.timestamps(3).tolist() == pytest.approx([0.0, 0.1, 0.2])
    assert build("panns").frame_rate is None  # one vector per window


def test_short_windows_are_padded_with_one_warning(weights: Path) -> None:
    vggish = build("vggish", 0.5)
    with pytest.warns(UserWarning, match="zero-padding"):
        with torch.no_grad():
            assert vggish(torch.zeros(2, 1, 8000)).shape == (2, 128)


def test_audioset_front_end_matches_the_tensorflow_models_numpy_reference(weights: Path, reference) -> None:
    waves = torch.from_numpy(reference_waveforms(16000, 2.0))
    for name in ("vggish", "yamnet"):
        ours = build(name).log_mel(waves).numpy()
        np.testing.assert_allclose(ours, reference[f"{name}_log_mel"], atol=5e-5, rtol=0)


def test_vggish_layers_are_the_packaged_network_and_yamnet_pads_like_its_features_py(weights: Path) -> None:
    from mirplug_pretrained.audioset import MIN_PATCH_SAMPLES

    vggish = build("vggish", 2.0)
    waves = torch.from_numpy(reference_waveforms(16000, 2.0))
    patches = vggish.log_mel(waves)[:, :192].reshape(4, 1, 96, 64)  # two whole patches per clip
    with torch.no_grad():
        np.testing.assert_allclose(vggish.embed_patches(waves).reshape(4, 128).numpy(), vggish.net(patches).numpy(),
                                   rtol=1e-5, atol=1e-5)
    yamnet = build("yamnet")
    # yamnet/features.py: at least 0.975 s, then whole 0.48 s hops
    assert [yamnet.pad_to_patches(torch.zeros(1, n)).shape[-1] for n in (100, 15600, 15601, 32000)] == [
        MIN_PATCH_SAMPLES, 15600, 15600 + 7680, 15600 + 3 * 7680]


def test_openl3_port_matches_torchopenl3(reference, tmp_path: Path) -> None:
    from mirplug_pretrained.openl3 import L3Audio, OpenL3, htk_mel_basis

    path = tmp_path / "torchopenl3_mel128_music.pth.tar"
    torch.save(random_state(openl3_layout("mel128"), REFERENCE_SEED, kapre_front_end("mel128")), path)
    waves = torch.from_numpy(reference_waveforms(48000, 1.3)).unsqueeze(1)
    for dim in (512, 6144):
        backbone = OpenL3((1, 62400), 48000.0, input_repr="mel128", embedding_dim=dim, hop_seconds=0.5,
                          weights_path=str(path)).eval()
        with torch.no_grad():
            out = backbone.frames(waves)
        assert out.shape == (2, 3, dim)  # 1.3 s + 0.5 s of centring, 1 s frames every 0.5 s
        np.testing.assert_allclose(out.reshape(6, dim).numpy(), reference[f"openl3_mel128_{dim}"], rtol=1e-5, atol=1e-3)
    # the front end built without a file is the one torchopenl3 asks librosa for (htk, norm=1)
    np.testing.assert_allclose(htk_mel_basis(128, 2048), kapre_front_end("mel128")["speclayer.mel_basis"], atol=1e-6)
    np.testing.assert_allclose(L3Audio("mel128", 512).speclayer.dft_real_kernels.numpy(),
                               kapre_front_end("mel128")["speclayer.dft_real_kernels"], atol=1e-6)


def test_openl3_framing_matches_torchopenl3(reference) -> None:
    import torch.nn.functional as F

    waves = torch.from_numpy(reference_waveforms(48000, 1.3))
    padded = F.pad(waves, (24000, 0))  # centred, then zeros to whole hops, as OpenL3.embed_patches
    padded = F.pad(padded, (0, 48000 + 2 * 24000 - padded.shape[-1]))
    frames = padded.unfold(-1, 48000, 24000).reshape(6, 48000)
    assert np.array_equal(frames[:, ::3000].numpy(), reference["openl3_frame_samples"])


def test_panns_port_matches_panns_inference(reference, tmp_path: Path) -> None:
    from mirplug_pretrained.panns import PANNs, slaney_mel_filters

    path = tmp_path / "Cnn14.pth"
    torch.save({"model": random_state(cnn14_layout(), REFERENCE_SEED, torchlibrosa_front_end())}, path)
    waves = torch.from_numpy(reference_waveforms(32000, 1.0)).unsqueeze(1)
    for layer, expected in (("embedding", reference["panns_embedding"]), ("clipwise", reference["panns_clipwise"])):
        backbone = PANNs((1, 32000), 32000.0, layer=layer, weights_path=str(path)).eval()
        with torch.no_grad():
            np.testing.assert_allclose(backbone(waves).numpy(), expected, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(slaney_mel_filters(), torchlibrosa_front_end()["logmel_extractor.melW"], atol=1e-7)


def _run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([MIRPLUG, *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=300)


def test_missing_weights_say_which_file_where_and_from_where(tmp_path: Path) -> None:
    result = _run_cli("run", "task=genre", "backbone=yamnet", *TINY, f"out={tmp_path}", env={})
    assert result.returncode == 2
    hub = Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints"
    expected = (f"error: backbone yamnet needs its weights file yamnet.pth in {hub}/ (or backbone.weights_path=PATH, "
                "or backbone.download=true to fetch it); it comes from "
                "https://github.com/w-hc/torch_audioset/releases/download/v0.1/yamnet.pth")
    assert result.stderr.strip().splitlines()[-1] == expected
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("name", "file_name", "url_end"), [
    ("vggish", "vggish_orig.pth", "vggish/releases/download/v0.1/vggish_orig.pth"),
    ("openl3", "torchopenl3_mel256_music_512.pth.tar", "torchopenl3-models/raw/master/torchopenl3_mel256_music_512.pth.tar"),
    ("panns", "Cnn14_mAP=0.431.pth", "zenodo.org/record/3987831/files/Cnn14_mAP%3D0.431.pth?download=1"),
])
def test_each_missing_file_is_named_with_its_url(name: str, file_name: str, url_end: str) -> None:
    from mirplug_pretrained.weights import WeightsMissing

    with pytest.raises(WeightsMissing, match=f"needs its weights file {file_name} in .*; it comes from https://.*") as info:
        build(name, input_repr="mel256", hop_seconds=0.1) if name == "openl3" else build(name)
    assert str(info.value).endswith(url_end) and "\n" not in str(info.value)


def test_download_is_never_tried_unless_asked_and_a_failed_one_says_what_to_do(monkeypatch, tmp_path) -> None:
    import torch.hub

    calls = []
    with monkeypatch.context() as patched:
        patched.setattr(torch.hub, "download_url_to_file", lambda *args, **kwargs: calls.append(args))
        with pytest.raises(ConfigError, match="needs its weights file"):
            build("yamnet")
    assert calls == []
    # asked: the real download runs and meets the test's network guard
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(ConfigError, match=r"downloading https://github.com/w-hc/torch_audioset/.*yamnet.pth failed "
                                          r".*; download it yourself and put it at .*/hub/checkpoints/yamnet.pth"):
        build("yamnet", download=True)


def test_weights_path_other_published_names_and_wrong_files(weights: Path, tmp_path: Path, monkeypatch) -> None:
    own = tmp_path / "mine.pth"
    own.write_bytes((weights / "yamnet.pth").read_bytes())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    assert build("yamnet", weights_path=str(own)).embedding_dim == 1024
    with pytest.raises(ConfigError, match=r"backbone.weights_path=.*nope.pth: no such file; it should be yamnet.pth"):
        build("yamnet", weights_path=str(tmp_path / "nope.pth"))
    with pytest.raises(ConfigError, match=r"vggish_orig.pth is not the expected checkpoint \(missing classifier.bias, "
                                          r"classifier.weight, layer1.fused.bn.bias and 161 more; unexpected "
                                          r"embeddings.0.bias, embeddings.0.weight, embeddings.2.bias and 15 more\)"):
        build("yamnet", weights_path=str(weights / "vggish_orig.pth"))
    # torchvggish's file name is the same VGGish layout; panns-inference keeps its file in ~/panns_data
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / "vggish-10086976.pth").symlink_to(weights / "vggish_orig.pth")
    (tmp_path / "home" / "panns_data").mkdir(parents=True)
    (tmp_path / "home" / "panns_data" / "Cnn14_mAP=0.431.pth").symlink_to(weights / "Cnn14_mAP=0.431.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert build("vggish").embedding_dim == 128
    assert build("panns").embedding_dim == 2048


def test_list_json_shows_licenses_citations_and_rates() -> None:
    result = _run_cli("list", "backbones", "--json", env={})
    found = {item["name"]: item for item in json.loads(result.stdout)}
    assert {name: found[name]["sample_rate"] for name in RATES} == RATES
    assert found["vggish"]["license"].startswith("Apache-2.0 (VGGish weights")
    assert "CC-BY-4.0" in found["panns"]["license"] and "MIT" in found["openl3"]["license"]
    assert all(found[name]["citation"] and found[name]["plugin"] == "pretrained" for name in RATES)
    assert found["openl3"]["options"][0] == {"name": "content_type", "type": "str", "default": "music",
                                             "help": found["openl3"]["options"][0]["help"], "choices": ["music", "env"]}


def _run(tmp_path: Path, name: str, *overrides: str):
    from mirplug.catalog import load_catalog
    from mirplug.config import resolve
    from mirplug.runner import run

    catalog = load_catalog()
    return run(resolve(catalog, ["task=genre", *TINY, f"out={tmp_path}", f"name={name}", *overrides]), catalog)


@pytest.mark.parametrize(("name", "options"), [
    ("vggish", ()), ("yamnet", ("backbone.head=mlp",)),
    ("openl3", ("backbone.input_repr=mel128", "backbone.hop_seconds=0.5", "backbone.center=false")),
    ("panns", ("backbone.head=centroid",)),
])
def test_a_genre_run_with_each_backbone_on_the_builtin_data(weights: Path, tmp_path: Path, name: str,
                                                            options: tuple[str, ...]) -> None:
    from mirplug import cache

    cache.STATS.clear()
    result = _run(tmp_path, name, f"backbone={name}", *options)
    assert result.metrics["n_train"] + result.metrics["n_validation"] + result.metrics["n_test"] == 6 * 8
    assert 0.0 <= result.metrics["accuracy"] <= 1.0
    assert cache.STATS["embeddings_computed"] == 6 * 8  # frozen: embedded once, per clip, into the cache
    assert (result.folder / "model.safetensors").is_file()
    if name == "vggish":  # another seed and head: every embedding comes from the cache
        cache.STATS.clear()
        _run(tmp_path, "again", f"backbone={name}", "seed=1", "backbone.head=mlp")
        assert cache.STATS["embeddings_computed"] == 0 and cache.STATS["embeddings_loaded"] == 6 * 8


def test_a_finetune_run_and_predict(weights: Path, tmp_path: Path) -> None:
    from mirplug.catalog import load_catalog
    from mirplug.predict import load_run, predict_files

    result = _run(tmp_path, "finetune", "backbone=yamnet", "backbone.mode=finetune", "train.epochs=1")
    assert result.metrics["epochs_run"] == 1
    wav = next(Path(os.environ["MIRPLUG_CACHE_DIR"]).rglob("*.wav"))
    (row,) = predict_files(load_run(result.folder, load_catalog()), [str(wav)])
    assert sum(row[f"p_{label}"] for label in result.metrics["labels"]) == pytest.approx(1.0, abs=1e-5)
