"""The built-in synthetic dataset: deterministic, labelled, cached, with generator metadata."""

from __future__ import annotations

import numpy as np
import pytest

from mirplug.errors import ConfigError
from mirplug_builtin.datasets.synth import STYLES, generate_clip
from mirplug_builtin.datasets.synthetic import dataset_folder, load


def test_the_same_seed_and_index_give_the_same_clip():
    first, info = generate_clip(2, seed=0, index=5)
    again, info_again = generate_clip(2, seed=0, index=5)
    other, _ = generate_clip(2, seed=1, index=5)
    assert np.array_equal(first, again) and info == info_again
    assert not np.array_equal(first, other)


def test_clips_are_full_length_finite_and_within_range():
    for style in range(len(STYLES)):
        samples, info = generate_clip(style, seed=0, index=0, seconds=2.0)
        assert samples.shape == (32000,) and samples.dtype == np.float32
        assert np.isfinite(samples).all() and np.abs(samples).max() <= 0.99
        assert info["style"] == STYLES[style].name
        low, high = STYLES[style].tempo
        assert low <= info["tempo"] <= high
        assert all(0 <= b < 2.0 for b in info["beats"])
        spacing = np.diff(info["beats"])
        assert np.allclose(spacing, 60.0 / info["tempo"], atol=1e-3)


def test_levels_do_not_give_the_style_away():
    levels = {s: [float(np.sqrt(np.mean(generate_clip(s, 0, i, 1.0)[0] ** 2))) for i in range(12)] for s in range(6)}
    means = [np.mean(v) for v in levels.values()]
    assert max(means) / min(means) < 1.8


def test_the_dataset_is_generated_once_and_reused():
    folder = dataset_folder(3, 0.5, 16000, 2, 0)
    stamp = (folder / "COMPLETE").stat().st_mtime_ns
    assert dataset_folder(3, 0.5, 16000, 2, 0) == folder
    assert (folder / "COMPLETE").stat().st_mtime_ns == stamp
    dataset = load(clips_per_class=3, seconds=0.5, styles=2)
    assert len(dataset) == 6
    assert dataset.features["label"].names == ["rock", "electronic"]
    assert {"tempo", "beats", "key", "instruments", "valence", "arousal"} <= set(dataset.column_names)
    assert sorted((folder / "rock").iterdir())[0].name == "rock.00000.wav"


def test_too_many_styles_is_refused():
    with pytest.raises(ConfigError, match="data.styles=9 must lie between 2 and 8"):
        load(styles=9)
