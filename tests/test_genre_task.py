"""The genre task's metrics against values computed by hand on a tiny case."""

from __future__ import annotations

import numpy as np
import torch

from mirplug_builtin.tasks.classification import ClassificationTask

NAMES = ["a", "b", "c"]


def test_metrics_on_a_hand_computed_case():
    targets = np.array([0, 0, 1, 1, 2, 2])
    # predicted: 0, 1, 1, 1, 2, 0
    probabilities = np.eye(3)[[0, 1, 1, 1, 2, 0]] * 0.8 + 0.2 / 3
    metrics = ClassificationTask().metrics(targets, probabilities, NAMES)
    assert metrics["accuracy"] == 4 / 6
    # a: P=1/2 R=1/2 F=1/2; b: P=2/3 R=1 F=4/5; c: P=1 R=1/2 F=2/3
    assert metrics["per_class"]["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert metrics["per_class"]["b"]["precision"] == 2 / 3 and metrics["per_class"]["b"]["f1"] == 0.8
    assert metrics["per_class"]["c"]["recall"] == 0.5
    assert abs(metrics["macro_f1"] - (0.5 + 0.8 + 2 / 3) / 3) < 1e-12
    assert metrics["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


def test_loss_and_probabilities():
    task = ClassificationTask()
    outputs = torch.tensor([[2.0, 0.0, 0.0]])
    assert torch.allclose(task.probabilities(outputs).sum(), torch.tensor(1.0))
    expected = -torch.log(torch.exp(torch.tensor(2.0)) / (torch.exp(torch.tensor(2.0)) + 2))
    assert torch.allclose(task.loss(outputs, torch.tensor([0])), expected)


def test_prediction_rows_name_the_best_class():
    rows = ClassificationTask().prediction_rows(np.array([[0.1, 0.7, 0.2]]), NAMES)
    assert rows == [{"prediction": "b", "probability": 0.7, "p_a": 0.1, "p_b": 0.7, "p_c": 0.2}]
