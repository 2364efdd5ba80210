"""Same command, same seed, same result: metrics.json and predictions.csv byte for byte.

Each run is a separate ``mirplug run`` process with its own ``PYTHONHASHSEED`` (so set and dict
order of strings differ between them, as between two shells), the first on a cold cache (the
synthetic dataset is generated, features computed, the generator fitted) and the second on the
warm one (everything read back from the cache).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import TINY

FILES = ("metrics.json", "predictions.csv", "model.safetensors")


def mirplug_run(overrides: list[str], out: Path, name: str, cache: Path, hash_seed: int) -> Path:
    env = {**os.environ, "MIRPLUG_CACHE_DIR": str(cache), "PYTHONHASHSEED": str(hash_seed), "HF_HUB_OFFLINE": "1"}
    completed = subprocess.run([sys.executable, "-m", "mirplug.cli", "run", *overrides, f"out={out}", f"name={name}"],
                               env=env, capture_output=True, text=True, timeout=600, check=False)
    assert completed.returncode == 0, completed.stderr
    return out / name


def cold_then_warm(tmp_path: Path, overrides: list[str]) -> tuple[Path, Path]:
    cache = tmp_path / "cache"
    assert not cache.exists()
    cold = mirplug_run(overrides, tmp_path / "runs", "cold", cache, hash_seed=1)
    warm = mirplug_run(overrides, tmp_path / "runs", "warm", cache, hash_seed=2)
    return cold, warm


def test_the_default_genre_run_twice_cold_then_warm_writes_identical_results(tmp_path):
    # the default genre run (mel + CNN with dropout) on fewer, shorter clips, with waveform and
    # feature augmentation drawn per example and epoch
    overrides = ["task=genre", "seed=7", "data.clips_per_class=10", "data.seconds=2.0", "data.clip_seconds=1.0",
                 "train.epochs=6", "augmenter=gain,specaugment", "augmenter.p=0.5"]
    cold, warm = cold_then_warm(tmp_path, overrides)
    for name in FILES:
        assert (cold / name).read_bytes() == (warm / name).read_bytes(), name
    assert (cold / "augmentations.csv").read_bytes() == (warm / "augmentations.csv").read_bytes()
    metrics = json.loads((cold / "metrics.json").read_text())
    assert metrics["seed"] == 7 and metrics["threads"] >= 1 and "duration_seconds" not in metrics
    facts = json.loads((cold / "run.json").read_text())
    assert facts["duration_seconds"] > 0 and facts["threads"] == metrics["threads"]


def test_a_run_with_a_generator_fitted_then_read_from_the_cache_writes_identical_results(tmp_path):
    overrides = ["task=genre", "seed=3", *TINY, "data.styles=3", "train.epochs=3", "augmenter=vae",
                 "augmenter.steps=20", "augmenter.per_class=4"]
    cold, warm = cold_then_warm(tmp_path, overrides)
    for name in (*FILES, "quality.json"):
        assert (cold / name).read_bytes() == (warm / name).read_bytes(), name
    # the second run did read the fitted generator back rather than fit it again
    assert "reused_from_cache" not in json.loads((cold / "run.json").read_text())["generators"][0]
    assert "reused_from_cache" in json.loads((warm / "run.json").read_text())["generators"][0]


def test_another_seed_gives_other_predictions(tmp_path):
    # the comparisons above can only fail if the seed matters at all
    overrides = ["task=genre", *TINY, "data.styles=3", "backbone.channels=4"]
    cache = tmp_path / "cache"
    first, second = (mirplug_run([*overrides, f"seed={seed}"], tmp_path / "runs", f"seed{seed}", cache, 1)
                     for seed in (0, 1))
    assert (first / "predictions.csv").read_bytes() != (second / "predictions.csv").read_bytes()
