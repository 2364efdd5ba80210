"""``mirplug new-plugin``: write a ready-to-install plugin package with one working component.

The package is the smallest thing that is a complete plugin: a ``pyproject.toml`` that
registers the ``mirplug`` entry point, a light hook module (no torch at import time), one
component of the chosen kind, a test that runs the :mod:`mirplug.testing` contract checks,
and a README. It passes ``mirplug validate`` and its own tests unchanged.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from mirplug.errors import MirplugError, choices_text
from mirplug.hookspecs import REGISTER_HOOKS
from mirplug.specs import KINDS, SPEC_CLASSES

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "mirplug-$name"
version = "0.1.0"
description = "$summary (a mirplug $kind plugin)"
readme = "README.md"
requires-python = ">=3.10"
license = { text = "MIT" }
dependencies = ["mirplug"]

[project.optional-dependencies]
test = ["pytest>=8"]

# This line is what makes it a mirplug plugin: mirplug loads the module named here.
[project.entry-points.mirplug]
$name = "$module"

[tool.setuptools]
packages = ["$module"]
"""

HOOKS = """\
\"\"\"mirplug plugin '$name': registers the $kind '$name'.

Imported every time mirplug starts, so it stays light: the component itself lives in
``$module.component`` and is only imported (with torch) when a run uses it.
\"\"\"

from __future__ import annotations

from mirplug.hookspecs import hookimpl
from mirplug.specs import $spec_class, Option


@hookimpl
def $hook() -> list[$spec_class]:
    \"\"\"Register the $kind '$name'.\"\"\"
    return [
        $spec_class(
            name="$name",
            summary="$summary",
            factory="$module.component:$factory",
            options=(
$options
            ),$extra
            license="MIT",
        )
    ]
"""

OPTIONS = {
    "representation": """\
                Option(name="sample_rate", type=int, default=16000, minimum=1000, help="audio is resampled to this"),
                Option(name="n_bands", type=int, default=16, minimum=1, help="frequency bands"),
                Option(name="hop_length_ms", type=float, default=20.0, minimum=1.0, help="hop between frames"),""",
    "backbone": """\
                Option(name="hidden", type=int, default=64, minimum=1, help="channels of the convolution"),
                Option(name="kernel_frames", type=int, default=5, minimum=1, help="convolution width in frames"),""",
    "augmenter": """\
                Option(name="p", type=float, default=0.5, minimum=0.0, maximum=1.0, help="probability of applying it"),
                Option(name="max_fade_fraction", type=float, default=0.3, minimum=0.0, maximum=0.5,
                       help="longest fade, as a fraction of the example"),""",
    "task": """\
                Option(name="label_smoothing", type=float, default=0.1, minimum=0.0, maximum=0.9,
                       help="cross-entropy label smoothing"),""",
    "dataset": """\
                Option(name="clips_per_class", type=int, default=20, minimum=3, help="clips generated per class"),
                Option(name="seconds", type=float, default=3.0, minimum=0.5, help="length of each clip"),
                Option(name="sample_rate", type=int, default=16000, minimum=8000, help="sample rate of the files"),""",
}

EXTRA = {
    "representation": "",
    "backbone": "",
    "augmenter": '\n            stage="waveform",',
    "task": ('\n            label_kind="single-label",\n            metrics=("accuracy", "macro_f1"),\n'
             '            main_metric="macro_f1",\n            default_dataset="synthetic",\n'
             '            defaults={"representation": "mel", "backbone": "mlp"},'),
    "dataset": "",
}

SUMMARIES = {
    "representation": "log energy in equal-width frequency bands",
    "backbone": "1-D convolution over time, then mean pooling",
    "augmenter": "random linear fade-in and fade-out",
    "task": "single-label classification with label smoothing",
    "dataset": "sine tones in three pitch classes (low, mid, high), generated offline",
}

FACTORIES = {"representation": "BandEnergy", "backbone": "ConvPool", "augmenter": "Fade",
             "task": "SmoothedClassification", "dataset": "load"}

COMPONENTS = {
    "representation": '''\
"""Representation '$name': log energy in ``n_bands`` equal-width frequency bands."""

from __future__ import annotations

import torch

from mirplug.components import Representation


class BandEnergy(Representation):
    """``(batch, time)`` -> ``(batch, n_bands, frames)``: log10 of the mean power per band and frame."""

    thread_safe = True  # pure torch, forward changes no state: clips may be featurized in decoding threads

    def __init__(self, sample_rate: int = 16000, n_bands: int = 16, hop_length_ms: float = 20.0) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.hop = max(1, int(round(sample_rate * hop_length_ms / 1000.0)))
        self.n_fft = 4 * self.hop
        self.n_bands = n_bands
        self.frame_rate = sample_rate / self.hop
        self.register_buffer("window", torch.hann_window(self.n_fft), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        spectrum = torch.stft(waveform, self.n_fft, self.hop, window=self.window, return_complex=True)
        power = spectrum.abs().pow(2)  # (batch, bins, frames)
        edges = torch.linspace(0, power.shape[1], self.n_bands + 1).round().long().tolist()
        bands = [power[:, lo:max(hi, lo + 1)].mean(dim=1) for lo, hi in zip(edges[:-1], edges[1:])]
        return torch.log10(torch.stack(bands, dim=1) + 1e-10)
''',
    "backbone": '''\
"""Backbone '$name': a 1-D convolution over time, then mean pooling."""

from __future__ import annotations

import torch
from torch import nn

from mirplug.components import Backbone


class ConvPool(Backbone):
    """``(batch, channels, frames)`` -> conv -> ReLU -> mean over frames -> ``(batch, hidden)``.

    Clip-level features ``(batch, dim)`` go through a linear layer instead.
    """

    def __init__(self, input_shape: tuple[int, ...], frame_rate: float | None = None, hidden: int = 64,
                 kernel_frames: int = 5) -> None:
        super().__init__()
        self.framed = len(input_shape) == 2
        if self.framed:
            self.layer: nn.Module = nn.Conv1d(input_shape[0], hidden, kernel_frames, padding=kernel_frames // 2)
        else:
            self.layer = nn.Linear(input_shape[0], hidden)
        self.embedding_dim = hidden

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        hidden = torch.relu(self.layer(features))
        return hidden.mean(dim=2) if self.framed else hidden
''',
    "augmenter": '''\
"""Augmenter '$name': a random linear fade-in and fade-out."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mirplug.components import Transform


class Fade(Transform):
    """``(time,)`` -> ``(time,)`` with linear ramps at both ends; never louder than the input."""

    stage = "waveform"

    def __init__(self, p: float = 0.5, max_fade_fraction: float = 0.3) -> None:
        super().__init__(p)
        self.max_fade_fraction = max_fade_fraction

    def sample_parameters(self, example: torch.Tensor, rng: np.random.Generator) -> dict[str, Any]:
        longest = int(self.max_fade_fraction * example.shape[-1])
        return {"fade_in_samples": int(rng.integers(0, longest + 1)),
                "fade_out_samples": int(rng.integers(0, longest + 1))}

    def apply(self, example: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        gain = torch.ones(example.shape[-1], dtype=example.dtype)
        fade_in, fade_out = params["fade_in_samples"], params["fade_out_samples"]
        if fade_in:
            gain[:fade_in] = torch.linspace(0.0, 1.0, fade_in, dtype=example.dtype)
        if fade_out:
            gain[-fade_out:] = torch.minimum(gain[-fade_out:], torch.linspace(1.0, 0.0, fade_out, dtype=example.dtype))
        return example * gain
''',
    "task": '''\
"""Task '$name': single-label classification with label smoothing.

Expects a dataset with a ``label`` column of type ``datasets.ClassLabel``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from mirplug.components import Task
from mirplug.errors import DataError


class SmoothedClassification(Task):
    """One class per clip; cross-entropy with label smoothing; accuracy and macro-F1."""

    label_kind = "single-label"
    main_metric = "macro_f1"
    label_column = "label"

    def __init__(self, label_smoothing: float = 0.1) -> None:
        self.label_smoothing = label_smoothing

    def label_names(self, dataset: Any) -> list[str]:
        names = getattr(dataset.features.get(self.label_column), "names", None)
        if not names:
            raise DataError(f"task $name needs a ClassLabel column '{self.label_column}' in the dataset")
        return list(names)

    def targets(self, rows: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(rows[self.label_column]), dtype=torch.long)

    def build_head(self, embedding_dim: int, n_outputs: int) -> nn.Module:
        return nn.Linear(embedding_dim, n_outputs)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(outputs, targets, label_smoothing=self.label_smoothing)

    def probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs.softmax(dim=-1)

    def metrics(self, targets: np.ndarray, probabilities: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
        from sklearn.metrics import accuracy_score, f1_score

        predicted = probabilities.argmax(axis=1)
        labels = list(range(len(names)))
        return {"accuracy": float(accuracy_score(targets, predicted)),
                "macro_f1": float(f1_score(targets, predicted, labels=labels, average="macro", zero_division=0))}

    def prediction_rows(self, probabilities: np.ndarray, names: Sequence[str]) -> list[dict[str, Any]]:
        return [{"prediction": names[int(p.argmax())], "probability": float(p.max())} for p in probabilities]
''',
    "dataset": '''\
"""Dataset '$name': sine tones in three pitch classes, generated once into mirplug's cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mirplug.paths import cache_dir

CLASSES = {"low": (110.0, 220.0), "mid": (330.0, 660.0), "high": (990.0, 1980.0)}


def _generate(folder: Path, clips_per_class: int, seconds: float, sample_rate: int) -> None:
    import soundfile

    rng = np.random.default_rng(0)
    time = np.arange(int(seconds * sample_rate)) / sample_rate
    for label, (low, high) in CLASSES.items():
        (folder / label).mkdir(parents=True, exist_ok=True)
        for index in range(clips_per_class):
            tone = 0.5 * np.sin(2 * np.pi * rng.uniform(low, high) * time)
            noise = 0.02 * rng.standard_normal(len(time))
            soundfile.write(folder / label / f"{label}{index:04d}.wav", (tone + noise).astype(np.float32), sample_rate)


def load(clips_per_class: int = 20, seconds: float = 3.0, sample_rate: int = 16000, task: str = "genre",
         **_: Any) -> Any:
    """A ``datasets.Dataset`` with ``audio`` (not decoded), ``label`` (ClassLabel) and ``id``."""
    import datasets

    folder = cache_dir() / "datasets" / f"$name-{clips_per_class}-{seconds:g}-{sample_rate}"
    if not (folder / "COMPLETE").exists():
        _generate(folder, clips_per_class, seconds, sample_rate)
        (folder / "COMPLETE").write_text("done")
    labels = list(CLASSES)
    paths = sorted(folder.glob("*/*.wav"))
    features = datasets.Features({
        "audio": {"bytes": datasets.Value("binary"), "path": datasets.Value("string")},
        "label": datasets.ClassLabel(names=labels),
        "id": datasets.Value("string"),
    })
    columns = {
        "audio": [{"path": str(path), "bytes": None} for path in paths],
        "label": [labels.index(path.parent.name) for path in paths],
        "id": [f"{path.parent.name}/{path.name}" for path in paths],
    }
    # build a plain struct, then cast: datasets' Audio encoder would otherwise need torchcodec
    return datasets.Dataset.from_dict(columns, features=features).cast_column("audio", datasets.Audio(decode=False))
''',
}

TEST = """\
\"\"\"The $kind '$name' passes mirplug's contract checks, and a run can use it.\"\"\"

from mirplug.catalog import load_catalog
from mirplug.testing import assert_component_passes, assert_plugin_passes


def test_plugin_is_installed() -> None:
    catalog = load_catalog()
    assert "$name" in catalog.host.plugins, [failure.line() for failure in catalog.failures]


def test_${module}_contract() -> None:
    # '$name:$name' is plugin:component, so a clash with another plugin cannot pick the wrong one
    results = assert_component_passes("$kind", "$name:$name")
    assert all(result.status == "pass" for result in results)


def test_whole_plugin_validates() -> None:
    assert_plugin_passes("$name")
"""

README = """\
# mirplug-$name

A [mirplug](https://github.com/mirplug/mirplug) plugin providing the $kind **$name**: $summary.

## Install

    mirplug install ./mirplug-$name        # or: pip install ./mirplug-$name

## Use

    mirplug list $kind
    $usage
    mirplug validate $name

## Develop

    pip install -e "./mirplug-$name[test]"
    pytest mirplug-$name/tests

The hook module `$module/__init__.py` registers the component with
`@hookimpl def $hook()`; the component itself is in `$module/component.py`.
The tests run the same contract checks as `mirplug validate` (from `mirplug.testing`).
"""

USAGE = {
    "representation": "mirplug run task=genre representation=$name",
    "backbone": "mirplug run task=genre backbone=$name",
    "augmenter": "mirplug run task=genre augmenter=$name",
    "task": "mirplug run task=$name",
    "dataset": "mirplug run task=genre data=$name",
}

def new_plugin(name: str, kind: str, parent: Path) -> Path:
    """Write ``parent/mirplug-<name>/`` for a plugin with one ``kind`` component called ``name``."""
    if not NAME_PATTERN.match(name):
        raise MirplugError(f"plugin name '{name}' must start with a lowercase letter and use only a-z, 0-9 and '_'")
    if kind not in KINDS:
        raise MirplugError(f"--kind {kind} is not a component kind; choose one of: {choices_text(KINDS)}")
    root = parent / f"mirplug-{name}"
    if root.exists():
        raise MirplugError(f"{root} already exists; choose another name or --path")
    module = f"mirplug_{name}"
    values = {"name": name, "module": module, "kind": kind, "summary": SUMMARIES[kind],
              "spec_class": SPEC_CLASSES[kind].__name__, "hook": REGISTER_HOOKS[kind], "factory": FACTORIES[kind],
              "options": OPTIONS[kind], "extra": EXTRA[kind]}
    values["usage"] = Template(USAGE[kind]).substitute(values)
    files = {
        "pyproject.toml": PYPROJECT,
        f"{module}/__init__.py": HOOKS,
        f"{module}/component.py": COMPONENTS[kind],
        f"tests/test_{name}.py": TEST,
        "README.md": README,
    }
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(template).substitute(values))
    return root
