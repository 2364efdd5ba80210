"""The beat task against a constant-tempo guess, on the same split and seed.

The guess places beats at the median tempo of the training clips, starting at the first frame; the
model is the default ``mirplug run task=beats``. Prints both F-measures (mir_eval, 70 ms) and their
ratio. Usage: ``python benchmarks/beats_baseline.py [seed]``.
"""

from __future__ import annotations

import sys
import tempfile

import numpy as np

from mirplug.catalog import load_catalog
from mirplug.config import resolve
from mirplug.data import split_dataset
from mirplug.build import load_dataset
from mirplug.runner import run
from mirplug_builtin.tasks.beats import f_measure


def main(seed: int = 0) -> None:
    catalog = load_catalog()
    with tempfile.TemporaryDirectory() as out:
        config = resolve(catalog, ["task=beats", f"seed={seed}", f"out={out}"])
        splits = split_dataset(load_dataset(catalog, config), None, config.split["validation"],
                               config.split["test"], seed)
        tempo = float(np.median(splits["train"]["tempo"]))
        seconds = config.data.options["clip_seconds"]
        guess = np.arange(0.0, seconds, 60.0 / tempo)
        baseline = np.mean([f_measure(np.asarray(ref), guess, 0.07)[0] for ref in splits["test"]["beats"]])
        result = run(config, catalog)
    print(f"{'beats on the synthetic test split':<46}{'F-measure':>10}")
    print(f"{f'constant tempo guess ({tempo:.1f} BPM from 0 s)':<46}{baseline:>10.3f}")
    print(f"{'mirplug run task=beats (mel 10 ms + cnn)':<46}{result.metrics['f_measure']:>10.3f}")
    print(f"model / guess: {result.metrics['f_measure'] / max(baseline, 1e-9):.1f}x")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
