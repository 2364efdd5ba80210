"""The default genre run against two baselines on the same split and seed.

Prints test macro-F1 of: a majority-class baseline, a single-feature baseline (mean loudness in dB,
logistic regression), and the default ``mirplug run task=genre`` (log-mel + small CNN), and the default
run's wall time. Usage: ``python benchmarks/genre_baselines.py [seed]``.
"""

from __future__ import annotations

import sys
import tempfile
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from mirplug.catalog import load_catalog
from mirplug.config import resolve
from mirplug.build import load_dataset
from mirplug.data import split_dataset
from mirplug.runner import run
from mirplug.windows import decode_windows


def loudness_db(waves: np.ndarray) -> np.ndarray:
    """Mean loudness of each clip in dB (RMS)."""
    return 20 * np.log10(np.sqrt(np.mean(waves**2, axis=1)) + 1e-9)


def main(seed: int = 0) -> None:
    catalog = load_catalog()
    with tempfile.TemporaryDirectory() as out:
        config = resolve(catalog, ["task=genre", f"seed={seed}", f"out={out}"])
        splits = split_dataset(load_dataset(catalog, config), "label", config.split["validation"],
                               config.split["test"], seed)
        train = decode_windows(splits["train"], 16000, 3.0, 1, "train")
        test = decode_windows(splits["test"], 16000, 3.0, 1, "test")
        y_train = np.asarray(splits["train"]["label"])[train.rows]
        y_test = np.asarray(splits["test"]["label"])[test.rows]

        majority = np.full_like(y_test, np.bincount(y_train).argmax())
        majority_f1 = f1_score(y_test, majority, average="macro")
        model = LogisticRegression(max_iter=1000).fit(loudness_db(train.waves.numpy())[:, None], y_train)
        loudness_f1 = f1_score(y_test, model.predict(loudness_db(test.waves.numpy())[:, None]), average="macro")

        started = time.time()
        result = run(config, catalog)
        elapsed = time.time() - started
    print(f"{'model':<40}{'test macro-F1':>14}")
    print(f"{'majority class':<40}{majority_f1:>14.3f}")
    print(f"{'mean loudness (logistic regression)':<40}{loudness_f1:>14.3f}")
    print(f"{'mirplug run task=genre (mel + cnn)':<40}{result.metrics['macro_f1']:>14.3f}")
    print(f"default run / loudness baseline macro-F1: {result.metrics['macro_f1'] / max(loudness_f1, 1e-9):.1f}x;"
          f" run took {elapsed:.1f} s in-process ({result.metrics['epochs_run']} epochs)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
