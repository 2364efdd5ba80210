"""Mixup (``train.mixup_alpha``): mixed targets reach the loss, seeded; refused where targets cannot mix."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from mirplug.errors import ConfigError
from mirplug.training import LoopSettings, fit
from mirplug_builtin.tasks.classification import ClassificationTask
from mirplug_builtin.tasks.tagging import TaggingTask


def test_single_label_targets_become_class_probabilities():
    mixed = ClassificationTask().mix_targets(torch.tensor([0, 2]), torch.tensor([1, 2]), 0.7, 3)
    torch.testing.assert_close(mixed, torch.tensor([[0.7, 0.3, 0.0], [0.0, 0.0, 1.0]]))


def test_multi_label_targets_mix_their_multi_hot_vectors():
    mixed = TaggingTask().mix_targets(torch.tensor([[1.0, 0.0, 1.0]]), torch.tensor([[0.0, 1.0, 1.0]]), 0.25, 3)
    torch.testing.assert_close(mixed, torch.tensor([[0.25, 0.75, 1.0]]))


class Spy(ClassificationTask):
    """Records what the training loop gives its loss."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self.seen.append(targets.clone())
        return super().loss(outputs, targets)


class FixedBatches:
    """Features and labels of four well-separated classes (no augmentation)."""

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.labels = torch.arange(32) % 4
        self.features = torch.nn.functional.one_hot(self.labels, 4).float() * 3 + \
            torch.randn(32, 4, generator=generator)
        self.records: list[dict[str, Any]] = []

    def batch(self, indices: torch.Tensor, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.features[indices], self.labels[indices]


class Progress:
    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        pass


def train(alpha: float, seed: int = 0) -> tuple[Spy, torch.nn.Module]:
    torch.manual_seed(0)
    net, task = torch.nn.Linear(4, 4), Spy()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    fit(net, optimizer, task, FixedBatches(), 32, lambda: (0.0, 0.0), LoopSettings(3, 8, 100, 0, seed, alpha),
        Progress())
    return task, net


def test_the_loss_gets_mixed_targets_and_the_draws_follow_the_seed():
    plain, _ = train(0.0)
    assert all(targets.dtype == torch.long and targets.dim() == 1 for targets in plain.seen)
    mixed, net = train(0.4)
    assert len(mixed.seen) == 3 * 4
    for targets in mixed.seen:
        assert targets.shape == (8, 4) and targets.dtype == torch.float32
        torch.testing.assert_close(targets.sum(dim=1), torch.ones(8))
    # max(weight, 1 - weight) of each batch: the largest share where two classes meet (one Beta draw per batch)
    weights = {round(float(targets.max(dim=1).values.min()), 6) for targets in mixed.seen}
    assert len(weights) > 6 and any(0.5 <= w < 0.95 for w in weights)
    again, net_again = train(0.4)
    assert all(torch.equal(a, b) for a, b in zip(mixed.seen, again.seen))
    assert torch.equal(net.weight, net_again.weight)
    other, _ = train(0.4, seed=1)
    assert not all(torch.equal(a, b) for a, b in zip(mixed.seen, other.seen))


def test_mixup_is_refused_for_targets_that_do_not_mix(catalog):
    from mirplug.config import resolve

    with pytest.raises(ConfigError, match="train.mixup_alpha=0.2: task 'mood' has regression targets"):
        resolve(catalog, ["task=mood", "train.mixup_alpha=0.2"])
    assert resolve(catalog, ["task=tagging", "train.mixup_alpha=0.2"]).train["mixup_alpha"] == 0.2
    assert resolve(catalog, ["task=genre"]).train["mixup_alpha"] == 0.0  # off by default


def test_ablate_takes_a_mixup_arm():
    from mirplug.ablate import arms_for

    common, arms = arms_for(["task=genre", "augmenter=gain", "seed=0,1"], "", ["train.mixup_alpha=0.2"])
    assert arms == ["augmenter=", "augmenter=gain", "train.mixup_alpha=0.2"]
    with pytest.raises(ConfigError, match="names no augmenter"):
        arms_for(["augmenter=gain"], "", ["train.lr=0.1"])
