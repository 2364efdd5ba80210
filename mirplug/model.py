"""The trainable model of a run: standardize -> backbone -> head, and how it is built.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from mirplug.catalog import Catalog
from mirplug.components import Backbone, RawWaveform, Representation, Task
from mirplug.config import RunConfig
from mirplug.errors import ConfigError
from mirplug.specs import BackboneSpec


class Standardize(nn.Module):
    """Per-channel standardization with statistics fitted on the training features."""

    def __init__(self, input_shape: Sequence[int]) -> None:
        super().__init__()
        shape = (input_shape[0], 1) if len(input_shape) == 2 else tuple(input_shape)
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))

    def fit(self, features: torch.Tensor) -> None:
        """Fit on ``(examples, channels, frames)`` or ``(examples, dim)`` features."""
        dims = (0, 2) if features.dim() == 3 else (0,)
        self.mean.copy_(features.mean(dim=dims).reshape(self.mean.shape))
        self.std.copy_(features.std(dim=dims).reshape(self.std.shape).clamp_min(1e-5))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.std


class MirModel(nn.Module):
    """Features -> task outputs."""

    def __init__(self, standardize: Standardize, backbone: Backbone, head: nn.Module, frame_level: bool = False) -> None:
        super().__init__()
        self.standardize = standardize
        self.backbone = backbone
        self.head = head
        self.frame_level = frame_level

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Clip outputs ``(batch, outputs)``, or per-frame outputs ``(batch, frames)`` for frame-level tasks."""
        if self.frame_level:
            return self.head(self.backbone.frames(self.standardize(features))).squeeze(-1)
        return self.head(self.backbone(self.standardize(features)))


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


def feature_shape(representation: Representation, n_samples: int) -> tuple[int, ...]:
    """The shape of one example's features for a window of ``n_samples``."""
    with torch.no_grad():
        return tuple(representation(torch.zeros(1, n_samples)).shape[1:])


class CentroidHead(nn.Module):
    """Nearest-class-centroid head: scaled cosine similarity to each class's mean embedding.

    Embeddings are centred on the training mean and L2-normalised; :meth:`fit` sets the
    centroids from training embeddings, so the head needs no gradient training at all.
    """

    scale = 10.0  # a softmax temperature: cosine similarities alone give nearly flat probabilities

    def __init__(self, embedding_dim: int, n_outputs: int) -> None:
        super().__init__()
        self.register_buffer("center", torch.zeros(embedding_dim))
        self.register_buffer("centroids", torch.zeros(n_outputs, embedding_dim))

    def fit(self, embeddings: torch.Tensor, targets: torch.Tensor) -> None:
        """Centroids of the training ``embeddings`` ``(examples, dim)`` per class in ``targets``."""
        self.center.copy_(embeddings.mean(dim=0))
        unit = nn.functional.normalize(embeddings - self.center, dim=1)
        for label in range(self.centroids.shape[0]):
            members = unit[targets == label]
            if len(members):
                self.centroids[label] = nn.functional.normalize(members.mean(dim=0), dim=0)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        unit = nn.functional.normalize(embeddings - self.center, dim=1)
        return self.scale * unit @ self.centroids.T


def build_head(task: Task, backbone: Backbone, n_outputs: int) -> nn.Module:
    """The task's head, or the head the backbone asks for (:attr:`~mirplug.components.Backbone.head_kind`).

    ``linear`` (default) is the task's own head, ``mlp`` puts one hidden layer of 256 units
    before it, ``centroid`` is a :class:`CentroidHead` (single-label tasks only).
    """
    kind = backbone.head_kind
    if kind == "centroid":
        if task.label_kind != "single-label":
            raise ConfigError(f"backbone {type(backbone).__name__} asks for the centroid head, which needs a "
                              f"single-label task, not a {task.label_kind} one; choose another head")
        return CentroidHead(backbone.embedding_dim, n_outputs)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(backbone.embedding_dim, 256), nn.ReLU(), nn.Dropout(0.2),
                             task.build_head(256, n_outputs))
    return task.build_head(backbone.embedding_dim, n_outputs)


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


@torch.no_grad()
def embed(model: MirModel, features: torch.Tensor, device: Any, batch_size: int = 32) -> torch.Tensor:
    """Clip embeddings of a frozen backbone, computed once in batches, returned on the CPU."""
    model.eval()
    parts = [model.backbone(model.standardize(features[i:i + batch_size].to(device))).cpu()
             for i in range(0, len(features), batch_size)]
    return torch.cat(parts) if parts else torch.zeros(0)


CPU_BATCH_SAMPLES = 1 << 18


@torch.no_grad()
def featurize(representation: Representation, waves: torch.Tensor, device: Any, batch_size: int = 64) -> torch.Tensor:
    """Features of every window, computed in batches on ``device``, returned on the CPU.

    On the CPU a batch holds at most ``CPU_BATCH_SAMPLES`` samples (about five 3 s windows at
    16 kHz): the spectrogram intermediates then stay in cache, which makes a log-mel about 2.4x
    faster than batches of 64 windows (``benchmarks/representations.py``).
    """
    if torch.device(device).type == "cpu" and waves.dim() >= 2:
        batch_size = max(1, min(batch_size, CPU_BATCH_SAMPLES // max(1, int(waves.shape[-1]))))
    representation = representation.to(device)
    parts = [representation(waves[i:i + batch_size].to(device)).cpu() for i in range(0, len(waves), batch_size)]
    return torch.cat(parts) if parts else torch.zeros(0)
