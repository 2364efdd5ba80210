"""``benchmarks/gpu.py`` says "no CUDA device" and exits 0 on a CPU; its measurements run (tiny, on the CPU)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu.py"


def load_script(monkeypatch: pytest.MonkeyPatch):
    spec = importlib.util.spec_from_file_location("gpu_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gpu_benchmark", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_gpu_benchmark_without_cuda_says_so_and_its_smoke_run_prints_every_row(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    script = load_script(monkeypatch)
    if not torch.cuda.is_available():
        assert script.main([]) == 0
        assert capsys.readouterr().out.startswith("no CUDA device")
    assert script.main(["--cpu-smoke", "--models", "ast"]) == 0
    out = capsys.readouterr().out
    for row in ("ast embedding (inputs on the device)", "ast training step (AdamW)",
                "ast mirplug backbone=hf (waveforms; extractor on the CPU)"):
        assert f"{row}" in out and out.count(row) == 2  # fp32 and bf16
    assert out.count("bf16/fp32") == 3 and "of the bf16 matmul" in out
