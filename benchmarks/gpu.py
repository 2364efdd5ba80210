"""Benchmark: base-size audio transformers on a GPU, fp32 against bf16, against the GPU's own peak.

Two randomly initialised base-size encoders built from their ``transformers`` configurations (no
download): AST-base (``ASTConfig()``: 12 layers, width 768, 1024 frames x 128 mel bands, 10.24 s)
and wav2vec2-base (``Wav2Vec2Config()``: 12 layers, width 768, 10 s of 16 kHz audio). For each, in
fp32 and in bf16 (``torch.autocast``):

* embedding throughput: clips/s of a no-grad forward pass on inputs already on the GPU;
* training: optimizer steps/s of forward + backward + AdamW with a linear head;
* mirplug's ``backbone=hf`` on the same model (saved to a temporary folder and loaded as a user
  would): the model's feature extractor runs on the CPU, so this row shows what the whole path gets;

each with the achieved TFLOP/s (FLOPs counted by ``torch.utils.flop_counter`` on one clip) as a
fraction of a large bf16 / fp32 matmul measured in the same run (the reference) and of the spec
sheet's dense peak where the GPU is in the table below.

    python benchmarks/gpu.py [--batch 16] [--iterations 20] [--models ast,wav2vec2]

Without a CUDA device it prints "no CUDA device" and exits 0: nothing here is meaningful on a CPU.
``--cpu-smoke`` runs every measurement on tiny configurations on the CPU (what the test does, so
the script is known to run before it meets a GPU).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

# Dense tensor-core peaks from the vendors' data sheets (TFLOP/s, bf16 and fp32 without sparsity;
# fp32 here is what plain fp32 matmuls get, not TF32). Only used to print a second ratio.
SPEC_PEAKS = {"H200": (989.0, 67.0), "H100": (989.0, 67.0), "A100": (312.0, 19.5), "L40S": (362.0, 91.6),
              "L4": (121.0, 30.3), "A10": (125.0, 31.2)}


@dataclass
class Row:
    """One measured line."""

    what: str
    precision: str
    per_second: float
    unit: str
    tflops: float


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def precision(device: torch.device, name: str) -> Iterator[None]:
    """fp32 as is, bf16 through autocast (as ``train.precision=bf16`` does)."""
    if name == "fp32":
        yield
        return
    with torch.autocast(device.type, dtype=torch.bfloat16):
        yield


def timed(function: Callable[[], Any], device: torch.device, iterations: int, warmup: int = 2) -> float:
    """Seconds per call, after ``warmup`` calls."""
    for _ in range(warmup):
        function()
    synchronize(device)
    started = time.perf_counter()
    for _ in range(iterations):
        function()
    synchronize(device)
    return (time.perf_counter() - started) / iterations


def matmul_reference(device: torch.device, size: int, iterations: int) -> dict[str, float]:
    """TFLOP/s of a ``size`` x ``size`` matmul in bf16 and in fp32 (TF32 off): the reachable ceiling here."""
    result = {}
    torch.backends.cuda.matmul.allow_tf32 = False
    for name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        a = torch.randn(size, size, device=device, dtype=dtype)
        b = torch.randn(size, size, device=device, dtype=dtype)
        seconds = timed(lambda: a @ b, device, iterations)
        result[name] = 2 * size ** 3 / seconds / 1e12
    return result


def build(kind: str, smoke: bool) -> tuple[nn.Module, Any, Callable[[int, torch.device], dict[str, torch.Tensor]], int]:
    """(model, feature extractor, inputs(batch, device), samples per clip) of a random-init encoder."""
    import transformers as tf

    if kind == "ast":
        small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                     max_length=128, num_mel_bins=16) if smoke else {}
        config = tf.ASTConfig(**small)
        model = tf.ASTModel(config)
        extractor = tf.ASTFeatureExtractor(num_mel_bins=config.num_mel_bins, max_length=config.max_length)
        samples = int(16000 * (config.max_length * 0.01 + 0.015))

        def inputs(batch: int, device: torch.device) -> dict[str, torch.Tensor]:
            return {"input_values": torch.randn(batch, config.max_length, config.num_mel_bins, device=device)}
    elif kind == "wav2vec2":
        small = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                     conv_dim=(32, 32, 32, 32, 32, 32, 32), num_conv_pos_embeddings=16,
                     num_conv_pos_embedding_groups=4) if smoke else {}
        config = tf.Wav2Vec2Config(**small)
        model = tf.Wav2Vec2Model(config)
        extractor = tf.Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True)
        samples = 16000 if smoke else 160000

        def inputs(batch: int, device: torch.device) -> dict[str, torch.Tensor]:
            return {"input_values": torch.randn(batch, samples, device=device)}
    else:
        raise SystemExit(f"unknown model {kind}; choose ast or wav2vec2")
    return model, extractor, inputs, samples


def forward_flops(model: nn.Module, inputs: dict[str, torch.Tensor]) -> float:
    """FLOPs of one forward pass on ``inputs`` (matmuls and convolutions, as torch counts them)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(**inputs)
    return float(counter.get_total_flops())


def measure_model(kind: str, device: torch.device, batch: int, iterations: int, smoke: bool) -> list[Row]:
    model, extractor, inputs, samples = build(kind, smoke)
    model = model.to(device)
    flops = forward_flops(model, inputs(1, device))  # per clip
    rows = []
    data = inputs(batch, device)
    for name in ("fp32", "bf16"):
        model.eval()

        def embed() -> None:
            with torch.inference_mode(), precision(device, name):
                model(**data).last_hidden_state.mean(dim=1)

        seconds = timed(embed, device, iterations)
        rows.append(Row(f"{kind} embedding (inputs on the device)", name, batch / seconds, "clips/s",
                        flops * batch / seconds / 1e12))
    head = nn.Linear(model.config.hidden_size, 10).to(device)
    labels = torch.randint(0, 10, (batch,), device=device)
    for name in ("fp32", "bf16"):
        trained = [*model.parameters(), *head.parameters()]
        optimizer = torch.optim.AdamW(trained, lr=1e-5)
        model.train()

        def step() -> None:
            with precision(device, name):
                logits = head(model(**data).last_hidden_state.mean(dim=1))
                loss = nn.functional.cross_entropy(logits.float(), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        seconds = timed(step, device, max(2, iterations // 2))
        rows.append(Row(f"{kind} training step (AdamW)", name, 1.0 / seconds, "steps/s",
                        3 * flops * batch / seconds / 1e12))  # backward ~ 2x forward
    rows += measure_mirplug_backbone(kind, model.cpu(), extractor, samples, device, batch, iterations, flops)
    return rows


def measure_mirplug_backbone(kind: str, model: nn.Module, extractor: Any, samples: int, device: torch.device,
                             batch: int, iterations: int, flops: float) -> list[Row]:
    """mirplug's ``backbone=hf`` on the same weights: waveforms in, the feature extractor on the CPU."""
    from mirplug.catalog import load_catalog

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        extractor.save_pretrained(folder)
        spec = load_catalog().get("backbone", "hf")
        backbone = spec.build({"model": folder, "mode": "frozen"}, input_shape=(1, samples), frame_rate=None)
        backbone = backbone.to(device).eval()
        waves = torch.randn(batch, 1, samples, device=device) * 0.1
        for name in ("fp32", "bf16"):
            def embed() -> None:
                with torch.inference_mode(), precision(device, name):
                    backbone(waves)

            seconds = timed(embed, device, max(1, iterations // 4), warmup=1)
            rows.append(Row(f"{kind} mirplug backbone=hf (waveforms; extractor on the CPU)", name, batch / seconds,
                            "clips/s", flops * batch / seconds / 1e12))
    return rows


def spec_peak(device_name: str) -> tuple[float, float] | None:
    for key, peaks in SPEC_PEAKS.items():
        if key in device_name:
            return peaks
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--models", default="ast,wav2vec2")
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny configurations on the CPU (for the test)")
    args = parser.parse_args(argv)
    import transformers

    transformers.utils.logging.disable_progress_bar()
    if not torch.cuda.is_available() and not args.cpu_smoke:
        print("no CUDA device: benchmarks/gpu.py measures GPU throughput and has nothing to measure here "
              "(--cpu-smoke runs it on tiny models on the CPU)")
        return 0
    device = torch.device("cpu" if args.cpu_smoke else "cuda")
    torch.manual_seed(0)
    if args.cpu_smoke:
        args.batch, args.iterations = min(args.batch, 2), min(args.iterations, 2)
        name = "CPU (smoke run: tiny configurations, numbers mean nothing)"
    else:
        name = torch.cuda.get_device_name(device)
    print(f"device: {name}; torch {torch.__version__}, CUDA {torch.version.cuda}")
    reference = matmul_reference(device, 256 if args.cpu_smoke else 8192, 2 if args.cpu_smoke else 20)
    peaks = spec_peak(name)
    print(f"reference matmul (measured here): bf16 {reference['bf16']:.1f} TFLOP/s, fp32 {reference['fp32']:.1f} "
          f"TFLOP/s" + (f"; spec sheet dense peak: bf16 {peaks[0]:.0f}, fp32 {peaks[1]:.1f}" if peaks else ""))
    print(f"batch {args.batch}; TFLOP/s from FLOPs counted on one clip (training: 3x forward)")
    rows: list[Row] = []
    for kind in [m.strip() for m in args.models.split(",") if m.strip()]:
        rows += measure_model(kind, device, args.batch, args.iterations, args.cpu_smoke)
    width = max(len(row.what) for row in rows)
    fp32_rate: dict[str, float] = {}
    for row in rows:
        reached = row.tflops / reference[row.precision]
        against_spec = f", {row.tflops / peaks[0 if row.precision == 'bf16' else 1]:.1%} of spec" if peaks else ""
        if row.precision == "fp32":
            fp32_rate[row.what] = row.per_second
            speedup = ""
        else:
            speedup = f", bf16/fp32 {row.per_second / fp32_rate[row.what]:.2f}x"
        print(f"  {row.what:<{width}}  {row.precision}  {row.per_second:9.2f} {row.unit:<8} "
              f"{row.tflops:7.2f} TFLOP/s = {reached:.1%} of the {row.precision} matmul{against_spec}{speedup}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
