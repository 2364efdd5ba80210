"""``benchmarks/representations.py`` runs end to end on a few seconds of audio (timings are not asserted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("librosa")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "representations.py"


def test_representations_benchmark_prints_every_row_with_consistent_frame_counts(tmp_path: Path) -> None:
    env = {**os.environ, "MIRPLUG_CACHE_DIR": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(SCRIPT), "--files", "4", "--minutes", "0.2", "--repeat", "1",
                           "--skip-runs"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert out.count("4 files, 0.2 min of audio at") == 2  # the 44.1 kHz and the 16 kHz file sets
    frames = {name.strip(): int(count) for name, count in
              re.findall(r"^  (mirplug [a-z0-9 ]+?|librosa [a-z0-9 ]+?)\s+[\d.]+ s .*\((\d+) frames", out, re.M)}
    # every mirplug path (batched, decoding threads, through the cache) computes the same windows' frames
    assert {frames[k] for k in ("mirplug batched", "mirplug 2 threads", "mirplug cache cold",
                                "mirplug cache warm")} == {frames["mirplug batched"]} and frames["mirplug batched"] > 0
    assert frames["librosa per file"] == frames["librosa 2 processes"] > 0
    assert out.count("of which decoding") == 2
    assert "mirplug 2 threads vs librosa per file:" in out
    for how in ("decoding threads (default)", "2 worker processes"):
        assert f"mirplug extract, {how}, cold cache: extracted 4 clips (4 computed, 0 from the cache" in out
        assert f"mirplug extract, {how}, warm cache: extracted 4 clips (0 computed, 4 from the cache" in out
