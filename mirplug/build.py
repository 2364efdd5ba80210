"""Building a run's components from a resolved config: task, representation, model, transforms, generators,
dataset, and the device they run on.

Everything is built (and checked against each other) before any audio is decoded, so a bad
setting fails at once. ``mirplug predict`` builds its components here too.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from mirplug.catalog import Catalog
from mirplug.components import Backbone, Generator, RawWaveform, Representation, Task, Transform
from mirplug.config import DATA_OPTIONS, RunConfig
from mirplug.errors import ConfigError
from mirplug.model import MirModel, Standardize, build_head
from mirplug.specs import AugmenterSpec, BackboneSpec


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class isolated_random_state:
    """Run a block with torch's, numpy's and Python's global random state saved and restored.

    A generator plugin may seed or draw from the global generators while fitting (a fit that
    happens on a cold cache but not on a warm one must not shift the run's later draws), and a
    lifecycle hook may draw from them (a logger must not change the numbers of the run it logs).
    """

    def __enter__(self) -> None:
        self._states = (torch.random.get_rng_state(), np.random.get_state(), random.getstate())

    def __exit__(self, *exc: Any) -> None:
        torch_state, numpy_state, python_state = self._states
        torch.random.set_rng_state(torch_state)
        np.random.set_state(numpy_state)
        random.setstate(python_state)


def deterministic_setup(device: torch.device) -> None:
    """Ask the libraries for repeatable results on ``device``.

    On the CPU the same thread count gives the same numbers (see the README); on a GPU cuDNN
    is told to pick deterministic algorithms and not to benchmark (which picks by timing).
    """
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def pick_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then the CPU; an unavailable device is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device=cuda but torch sees no CUDA device; use train.device=cpu or auto")
    return torch.device(name)


def build_task(catalog: Catalog, config: RunConfig) -> Task:
    """The task component."""
    task = catalog.get("task", config.task.name).build(config.task.options)
    if not isinstance(task, Task):
        raise ConfigError(f"task '{config.task.name}' did not build a Task")
    return task


def build_generators(catalog: Catalog, config: RunConfig) -> list[tuple[str, Generator]]:
    """The chosen generator augmenters (fitted on the training split, then sampled), in order."""
    generators = []
    for selection in config.augmenters:
        spec = catalog.get("augmenter", selection.name)
        if isinstance(spec, AugmenterSpec) and spec.stage == "generator":
            generator = spec.build(selection.options)
            if not isinstance(generator, Generator):
                raise ConfigError(f"augmenter '{selection.name}' did not build a Generator")
            generators.append((selection.name, generator))
    return generators


def build_transforms(catalog: Catalog, config: RunConfig) -> list[tuple[str, Transform]]:
    """The chosen transform augmenters as (name, transform), in the order given."""
    transforms = []
    for selection in config.augmenters:
        spec = catalog.get("augmenter", selection.name)
        assert isinstance(spec, AugmenterSpec)
        if spec.stage in ("generator", "embeddings"):  # fitted and sampled, not applied per example
            continue
        transform = spec.build(selection.options)
        if not isinstance(transform, Transform):
            raise ConfigError(f"augmenter '{selection.name}' did not build a Transform")
        transforms.append((selection.name, transform))
    return transforms


def build_loggers(catalog: Catalog, config: RunConfig) -> list[tuple[str, Any]]:
    """The chosen loggers as (name, plugin object), in the order given (see :class:`~mirplug.specs.LoggerSpec`)."""
    return [(selection.name, catalog.get("logger", selection.name).build(selection.options))
            for selection in config.loggers]


def load_dataset(catalog: Catalog, config: RunConfig) -> Any:
    """The dataset from its plugin (core data options are not passed on)."""
    own = {k: v for k, v in config.data.options.items() if k not in {o.name for o in DATA_OPTIONS}}
    return catalog.get("dataset", config.data.name).build(own, task=config.task.name)


def build_representation(catalog: Catalog, config: RunConfig) -> Representation:
    """The representation, or raw waveform at the backbone's rate when the backbone wants it."""
    backbone_spec = catalog.get("backbone", config.backbone.name)
    assert isinstance(backbone_spec, BackboneSpec)
    if backbone_spec.expects == "waveform":
        # the spec's rate, else the one the backbone says for its options (e.g. the model it loads)
        rate = backbone_spec.input_sample_rate(dict(config.backbone.options))
        representation: Representation = RawWaveform(rate or config.representation.options.get("sample_rate", 16000))
    else:
        representation = catalog.get("representation", config.representation.name).build(
            config.representation.options
        )
    if not isinstance(representation, Representation):
        raise ConfigError(f"representation '{config.representation.name}' did not build a Representation module")
    return representation


def head_options_of(catalog: Catalog, backbone: str) -> tuple[str, ...]:
    """The options of ``backbone`` that change only its head (:attr:`mirplug.specs.BackboneSpec.head_options`)."""
    spec = catalog.get("backbone", backbone)
    return spec.head_options if isinstance(spec, BackboneSpec) else ()


def feature_layout(representation: Representation) -> str:
    """``"vector"`` for clip-level features (``frame_rate = None``), else ``"frames"``."""
    return "vector" if representation.frame_rate is None else "frames"


def backbones_taking(catalog: Catalog, layout: str) -> list[tuple[str, str]]:
    """(name, plugin) of every backbone whose spec says it takes ``layout`` features, in registration order.

    A name that several plugins register is given as ``plugin:name``, as a user must choose it.
    """
    return [(entry.spec.name if len(entries) == 1 else f"{entry.plugin}:{entry.spec.name}", entry.plugin)
            for entries in catalog.entries["backbone"].values() for entry in entries
            if isinstance(entry.spec, BackboneSpec) and entry.spec.expects in (None, layout)]


def fit_backbone_to_features(catalog: Catalog, config: RunConfig, representation: Representation,
                             task: Task) -> tuple[RunConfig, str | None]:
    """Check, before any audio is decoded, that the backbone takes what the representation gives.

    The contracts say it: a representation with ``frame_rate = None`` gives one vector per clip, a
    :class:`~mirplug.specs.BackboneSpec` declares ``expects`` (``"frames"``, ``"vector"``, ``None``
    for either). When the backbone is the task's default (``config.backbone_default``) and does not
    fit, the first backbone that does, from the plugin of the default one (else from any plugin),
    takes its place, and the returned note says so; a backbone the user chose is an error instead.
    """
    from mirplug.config import copy_config

    layout = feature_layout(representation)
    if task.frame_level and layout == "vector":
        raise ConfigError(f"task '{config.task.name}' predicts per frame, but representation "
                          f"'{config.representation.name}' gives one vector per clip (no frame rate); choose a "
                          f"representation with frames (e.g. the task's default)")
    spec = catalog.get("backbone", config.backbone.name)
    assert isinstance(spec, BackboneSpec)
    expects = spec.expects
    if expects in (None, "waveform", layout):
        return config, None
    fitting = backbones_taking(catalog, layout)
    what = {"vector": "one vector per clip", "frames": "(channels, frames) features"}
    if config.backbone_default and fitting:
        plugin = catalog.plugin_of("backbone", config.backbone.name)
        chosen = ([name for name, owner in fitting if owner == plugin] or [name for name, _ in fitting])[0]
        replaced = copy_config(config)
        replaced.backbone = default_selection(catalog, config.task.name, chosen)
        replaced.backbone_default = False
        note = (f"representation '{config.representation.name}' gives {what[layout]}, which the default backbone "
                f"'{config.backbone.name}' does not take: using backbone={chosen} (choose another with backbone=...)")
        return replaced, note
    raise ConfigError(
        f"representation '{config.representation.name}' gives {what[layout]}, but backbone "
        f"'{config.backbone.name}' takes {what[expects] if expects in what else expects} only; choose a backbone "
        f"that takes them ({', '.join(sorted(f'backbone={name}' for name, _ in fitting)) or 'none is installed'}) "
        f"or another representation"
    )


def default_selection(catalog: Catalog, task_name: str, backbone: str) -> Any:
    """``backbone`` with its default options and the task's ``backbone.*`` defaults that apply to it."""
    from mirplug.config import Selection

    spec = catalog.get("backbone", backbone)
    options = spec.option_defaults()
    for key, value in catalog.get("task", task_name).defaults.items():  # type: ignore[attr-defined]
        head, _, option = key.partition(".")
        declared = spec.option(option) if head == "backbone" and option else None
        if declared is not None:
            options[option] = declared.coerce(value, key)
    return Selection(backbone, options)


def build_model(catalog: Catalog, config: RunConfig, task: Task, input_shape: Sequence[int],
                frame_rate: float | None, n_outputs: int) -> MirModel:
    """Backbone and head for features of ``input_shape``."""
    spec = catalog.get("backbone", config.backbone.name)
    backbone = spec.build(config.backbone.options, input_shape=tuple(input_shape), frame_rate=frame_rate)
    if not isinstance(backbone, Backbone):
        raise ConfigError(f"backbone '{config.backbone.name}' did not build a Backbone module")
    if task.frame_level and backbone.frame_rate is None:
        raise ConfigError(
            f"task '{config.task.name}' predicts per frame, but backbone '{config.backbone.name}' gives clip "
            "embeddings only; choose a backbone with frame embeddings (e.g. backbone=cnn)"
        )
    return MirModel(Standardize(input_shape), backbone, build_head(task, backbone, n_outputs),
                    frame_level=task.frame_level)


def preflight(catalog: Catalog, config: RunConfig) -> tuple[RunConfig, Task, Representation, str | None]:
    """The checks that need the built task and representation but no data: both build, and the backbone takes
    the representation's features (:func:`fit_backbone_to_features`). Sweeps run it for every
    grid point before the first run.

    Returns the config (with a fitting backbone when the task's default did not fit), the task, the
    representation and a note to print when the backbone was replaced.
    """
    task = build_task(catalog, config)
    representation = build_representation(catalog, config)
    config, note = fit_backbone_to_features(catalog, config, representation, task)
    return config, task, representation, note
