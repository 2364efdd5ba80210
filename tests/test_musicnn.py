"""The musicnn port against the original TensorFlow graph, the checkpoint reader, and a real run.

The reference values in ``tests/fixtures/musicnn_reference.npz`` were computed once with the
original musicnn TensorFlow graph (see ``tests/fixtures/README.md`` and
``benchmarks/musicnn_reference.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"
pytest.importorskip("musicnn", reason="the musicnn weights: pip install --no-deps musicnn==0.1.0")

from mirplug.errors import ConfigError, DataError  # noqa: E402
from mirplug_builtin.backbones.musicnn import LogMel, Musicnn, MusicnnNet, checkpoint_prefix  # noqa: E402
from mirplug_builtin.backbones.tfbundle import read_checkpoint, read_index  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "musicnn_reference.npz"


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    """The TensorFlow reference outputs."""
    with np.load(FIXTURE) as data:
        return {key: data[key] for key in data.files}


def test_reader_parses_the_checkpoint_index_and_data() -> None:
    entries = read_index(checkpoint_prefix("MSD"))
    # 8 convolutions and 3 dense-ish layers: every tensor musicnn's graph restores is there
    assert entries["conv2d/kernel"].shape == (7, 38, 1, 204)
    assert entries["conv2d_5/kernel"].shape == (7, 561, 1, 64)
    assert entries["dense/kernel"].shape == (1506, 200)
    assert entries["dense_1/bias"].shape == (50,)
    assert entries["batch_normalization_9/moving_variance"].shape == (1506,)
    tensors = read_checkpoint(checkpoint_prefix("MSD"))
    assert tensors["dense_1/bias"].dtype == np.float32
    assert tensors["batch_normalization/moving_mean"].shape == (1,)
    # the model's own variables (Adam slots left out) hold 787,188 numbers
    model = {k: v for k, v in tensors.items() if "Adam" not in k and "power" not in k}
    assert sum(v.size for v in model.values()) == sum(p.numel() for p in MusicnnNet().state_dict().values()
                                                      if p.dtype == torch.float32)


def test_reader_rejects_a_file_that_is_no_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "bad.index").write_bytes(b"not a table" * 10)
    with pytest.raises(DataError, match="bad table magic"):
        read_index(tmp_path / "bad")
    with pytest.raises(DataError, match="not found"):
        read_index(tmp_path / "missing")


@pytest.mark.parametrize("weights", ["MSD", "MTT"])
def test_network_reproduces_tensorflow_on_the_same_log_mel(reference: dict[str, np.ndarray], weights: str) -> None:
    net = MusicnnNet().eval()
    net.load_tf_checkpoint(checkpoint_prefix(weights))
    with torch.no_grad():
        out = net(torch.from_numpy(reference["logmel"])[None])
    np.testing.assert_allclose(out["taggram"][0].numpy(), reference[f"{weights}_taggram"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(out["penultimate"][0].numpy(), reference[f"{weights}_penultimate"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(out["mean_pool"][0].numpy(), reference[f"{weights}_mean_pool"], atol=1e-4, rtol=5e-5)
    np.testing.assert_allclose(out["max_pool"][0].numpy(), reference[f"{weights}_max_pool"], atol=1e-4, rtol=5e-5)


def test_front_end_matches_musicnn_log_mel(reference: dict[str, np.ndarray]) -> None:
    waveform = torch.from_numpy(reference["waveform"].astype(np.float32))[None]
    logmel = LogMel()(waveform)[0]
    assert logmel.shape == (188, 96)  # centred frames: 1 + 48000 // 256
    ours, theirs = logmel[:187].numpy(), reference["logmel"]
    # both round to float16; a value on a rounding boundary may land one float16 step apart
    assert np.abs(ours - theirs).max() <= 2 ** -10
    assert (ours == theirs).mean() > 0.995


def test_backbone_from_waveform_reproduces_the_tensorflow_taggram(reference: dict[str, np.ndarray]) -> None:
    waveform = torch.from_numpy(reference["waveform"].astype(np.float32)).reshape(1, 1, -1)
    backbone = Musicnn(input_shape=(1, 48000), frame_rate=16000.0, weights="MSD", layer="taggram").eval()
    with torch.no_grad():
        taggram = backbone(waveform)[0].numpy()
    np.testing.assert_allclose(taggram, reference["MSD_taggram"], atol=1e-4, rtol=0)
    pool = Musicnn(input_shape=(1, 48000), frame_rate=16000.0, weights="MSD", layer="pool").eval()
    with torch.no_grad():
        assert pool(waveform).shape == (1, 1506)


def test_short_windows_are_repeat_padded_with_one_warning() -> None:
    backbone = Musicnn(input_shape=(1, 16000), frame_rate=16000.0, layer="penultimate").eval()
    with pytest.warns(UserWarning, match="repeat-padding"):
        with torch.no_grad():
            out = backbone(torch.randn(2, 1, 16000) * 0.01)
    assert out.shape == (2, 200)
    with torch.no_grad():
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            backbone(torch.randn(1, 1, 16000) * 0.01)  # said once only


def test_wrong_sample_rate_is_refused() -> None:
    with pytest.raises(ConfigError, match="16 kHz"):
        Musicnn(input_shape=(1, 22050), frame_rate=22050.0)


def test_run_with_musicnn_few_labels_and_centroid_head(tmp_path: Path) -> None:
    from mirplug.catalog import load_catalog
    from mirplug.config import resolve
    from mirplug.runner import run

    os.environ["MIRPLUG_CACHE_DIR"] = str(tmp_path / "cache")
    catalog = load_catalog()
    config = resolve(catalog, ["task=genre", "backbone=musicnn", "backbone.head=centroid", "data.clips_per_class=6",
                               "data.per_class=3", "train.epochs=1", f"out={tmp_path}"])
    result = run(config, catalog)
    assert result.metrics["n_train"] == 3 * 6  # 6 styles, 3 clips each
    assert result.metrics["epochs_run"] == 0  # the centroid head does not train
    assert 0.0 <= result.metrics["accuracy"] <= 1.0
    assert (result.folder / "model.safetensors").is_file()
    from mirplug.predict import load_run, predict_files

    wav = next((tmp_path / "cache").rglob("*.wav"))
    (row,) = predict_files(load_run(result.folder, catalog), [str(wav)])
    assert row["prediction"] in result.metrics["labels"]
    assert sum(row[f"p_{name}"] for name in result.metrics["labels"]) == pytest.approx(1.0, abs=1e-5)
    linear = resolve(catalog, ["task=genre", "backbone=musicnn", "data.clips_per_class=6", "train.epochs=2",
                               f"out={tmp_path}", "name=linear"])
    trained = run(linear, catalog)
    assert trained.metrics["epochs_run"] == 2
    # the frozen backbone's embeddings are cached per clip: another head and seed skip the backbone...
    from mirplug import cache

    cache.STATS.clear()
    again = run(resolve(catalog, ["task=genre", "backbone=musicnn", "data.clips_per_class=6", "train.epochs=2",
                                  "seed=1", f"out={tmp_path}", "name=again"]), catalog)
    assert cache.STATS["embeddings_computed"] == 0 and cache.STATS["embeddings_loaded"] == 6 * 6
    assert again.metrics["epochs_run"] == 2
    # ...and other backbone settings compute them again
    cache.STATS.clear()
    run(resolve(catalog, ["task=genre", "backbone=musicnn", "backbone.layer=penultimate", "data.clips_per_class=6",
                          "train.epochs=1", f"out={tmp_path}", "name=penultimate"]), catalog)
    assert cache.STATS["embeddings_computed"] == 6 * 6 and cache.STATS["embeddings_loaded"] == 0
