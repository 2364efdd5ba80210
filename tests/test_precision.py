"""``train.precision``: forward passes and frozen embeddings under autocast, cached apart from fp32; and a run
folder written before ``train.precision``/``train.processes`` existed still resumes (:mod:`mirplug.runner`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mirplug.cache import module_settings
from mirplug.config import resolve
from mirplug.errors import RunError
from mirplug.inference import embed_module
from mirplug.runner import open_run_folder
from mirplug.training import LoopSettings, Stepper
from mirplug.rundir import read_yaml, write_yaml


class Rows:
    """Eight examples of three classes, served a batch at a time like :class:`mirplug.training.Batches`."""

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.inputs, self.targets = torch.randn(8, 16, generator=generator), torch.arange(8) % 3

    def batch(self, indices: torch.Tensor, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.inputs[indices], self.targets[indices]


class CrossEntropy:
    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(outputs, targets)


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16),
                                              ("fp16", torch.float16)])
def test_training_steps_run_the_forward_pass_in_the_chosen_precision(precision: str, dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    net = torch.nn.Linear(16, 3)
    seen: list[torch.dtype] = []
    net.register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    before = net.weight.detach().clone()
    settings = LoopSettings(epochs=1, batch_size=4, patience=1, min_steps=0, seed=0, precision=precision)
    stepper = Stepper(net, torch.optim.SGD(net.parameters(), lr=0.5), CrossEntropy(), settings, "linear")
    loss, steps = stepper.epoch(Rows(), [torch.arange(4), torch.arange(4, 8)], 1, 0)
    assert seen == [dtype, dtype] and steps == 2 and loss > 0
    assert (stepper.scaler is not None) == (precision == "fp16")  # fp16 gradients go through a scaler
    assert net.weight.dtype == torch.float32 and not torch.equal(before, net.weight)  # fp32 weights, trained


def test_frozen_embeddings_are_computed_under_autocast_and_cached_apart_from_fp32() -> None:
    torch.manual_seed(0)
    module, features = torch.nn.Linear(64, 8), torch.randn(10, 64)
    full = embed_module(module, features, "cpu")
    half = embed_module(module, features, "cpu", precision="bf16")
    assert half.dtype == torch.float32  # handed back as float32 whatever the autocast
    assert not torch.equal(full, half) and torch.allclose(full, half, atol=0.1)  # bf16 rounding, nothing more
    key = module_settings("linear", {}, module, "weights", {})
    assert "precision" not in key  # fp32 keys are those of a mirplug without train.precision
    assert module_settings("linear", {}, module, "weights", {}, precision="bf16") == {**key, "precision": "bf16"}


def test_a_run_folder_from_before_the_new_train_options_resumes_and_a_changed_one_does_not(catalog,
                                                                                           tmp_path: Path) -> None:
    config = resolve(catalog, ["task=genre", f"out={tmp_path}"])
    folder = open_run_folder(config, None)
    saved = read_yaml(folder / "config.yaml")
    del saved["train"]["precision"], saved["train"]["processes"]  # as an older mirplug wrote it
    write_yaml(folder / "config.yaml", saved)
    assert open_run_folder(config, folder) == folder
    with pytest.raises(RunError, match="train differ"):
        open_run_folder(resolve(catalog, ["task=genre", f"out={tmp_path}", "train.precision=bf16"]), folder)
