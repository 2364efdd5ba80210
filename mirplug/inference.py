"""Inference: features of windows, embeddings of a frozen backbone, predictions per clip (nothing of training).

``mirplug predict`` needs this module and :mod:`mirplug.build`, never :mod:`mirplug.training`.
Features and frozen-backbone embeddings are computed once per clip content and kept in the
feature cache (:mod:`mirplug.cache`).

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from mirplug.cache import EntryStore, cached_per_clip, feature_store
from mirplug.rows import EntryRows, Rows, as_rows

if TYPE_CHECKING:
    from mirplug.components import Representation, Task
    from mirplug.windows import CachedWindows, Windows

CPU_BATCH_SAMPLES = 1 << 18
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: torch.device, precision: str) -> Any:
    """The autocast context of ``train.precision`` on ``device`` (fp32: none); outputs are cast back with ``.float()``."""
    dtype = PRECISIONS[precision]
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` on ``device``; to a GPU through pinned memory, without waiting for the copy."""
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


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


def feature_shape(representation: Representation, n_samples: int) -> tuple[int, ...]:
    """The shape of one example's features for a window of ``n_samples``."""
    with torch.no_grad():
        return tuple(representation(torch.zeros(1, n_samples)).shape[1:])


@torch.no_grad()
def embed(model: Any, features: Rows | torch.Tensor, device: Any, batch_size: int = 32,
          precision: str = "fp32") -> torch.Tensor:
    """Clip embeddings of a frozen backbone (a :class:`~mirplug.model.MirModel`'s), computed once in batches
    (under ``precision``'s autocast), returned on the CPU as float32."""
    model.eval()
    device = torch.device(device)
    parts = []
    for _, batch in as_rows(features).batches(batch_size):
        with autocast(device, precision):
            parts.append(model.backbone(model.standardize(to_device(batch, device))).float().cpu())
    return torch.cat(parts) if parts else torch.zeros(0)


@torch.no_grad()
def predict_clips(model: torch.nn.Module, task: Task, features: Rows | torch.Tensor, windows: Windows,
                  device: torch.device, frame_rate: float | None = None, batch_size: int = 64,
                  precision: str = "fp32") -> tuple[Any, torch.Tensor]:
    """One prediction per clip (the task aggregates its windows) and the raw window outputs (float32).

    ``model`` is the whole model, or only its head when a frozen backbone's embeddings are the features;
    ``features`` are read a batch at a time; forward passes run under ``precision``'s autocast.
    """
    model.eval()
    parts = []
    for _, batch in as_rows(features).batches(batch_size):
        with autocast(device, precision):
            parts.append(model(to_device(batch, device)).float().cpu())
    outputs = torch.cat(parts)
    return task.aggregate(outputs, windows, len(windows.rows), frame_rate), outputs


def featurizer_while_decoding(representation: Representation, device: Any) -> Any:
    """The featurizer :func:`mirplug.windows.decode_cells` may run in its threads, or ``None`` where it must not.

    Only on the CPU (a GPU featurizes whole batches better) and only for a representation
    declared :attr:`~mirplug.components.Representation.thread_safe`.
    """
    if torch.device(device).type != "cpu" or not representation.thread_safe:
        return None
    return lambda waves: featurize(representation, waves, "cpu")


def featurize_rows(representation: Representation, settings: Mapping[str, Any], windows: CachedWindows,
                   device: Any, batch_size: int = 64) -> EntryRows:
    """Features of every window, read from the cache a batch at a time: cached clips are located, the others
    computed (a few clips at a time) and stored."""
    return cached_per_clip(
        feature_store(settings), windows, lambda mask: featurize(representation, windows.waves[mask], device, batch_size),
        "features", windows.features,
        lambda position: {"samples": str(round(windows.seconds[position] * representation.sample_rate))},
        windows.fresh)


def featurize_cached(representation: Representation, settings: Mapping[str, Any], windows: CachedWindows,
                     device: Any, batch_size: int = 64) -> torch.Tensor:
    """Features of every window as one tensor (:func:`featurize_rows`, all read at once: for small sets)."""
    return featurize_rows(representation, settings, windows, device, batch_size)[:]


def embed_rows(model: Any, settings: Mapping[str, Any], features: Rows | torch.Tensor, windows: CachedWindows,
               device: Any, feature_settings: Mapping[str, Any] | None = None, precision: str = "fp32") -> Rows:
    """Frozen-backbone embeddings of every window, read from the cache a batch at a time: cached clips are
    located, the others computed from ``features`` and stored.

    Like features, entries are per clip content, so a second run with the same frozen backbone
    (another head, seed or split of the same audio) skips the backbone's forward pass. A backbone
    made of parts (:meth:`mirplug.components.Backbone.parts`, given ``feature_settings``) is cached
    part by part, each keyed as that part alone would be, and the parts are concatenated.
    """
    from mirplug.cache import module_digest, module_settings

    rows = as_rows(features)
    parts = model.backbone.parts() if feature_settings is not None else []
    if not parts:
        store = EntryStore(f"embeddings-{settings['embeddings']}", settings)
        return cached_per_clip(store, windows, lambda mask: embed(model, rows[mask], device, precision=precision),
                               "embeddings")
    outputs = []
    for name, options, module in parts:
        store = EntryStore(f"embeddings-{name}", module_settings(name, options, module, module_digest(module),
                                                                feature_settings or {}, precision=precision))
        part_rows = cached_per_clip(
            store, windows, lambda mask, part=module: embed_module(part, rows[mask], device, precision=precision),
            "embeddings")
        outputs.append(part_rows[:])
    return as_rows(torch.cat(outputs, dim=1))  # clip-level vectors of a few parts: small enough to hold


def embed_cached(model: Any, settings: Mapping[str, Any], features: Rows | torch.Tensor, windows: CachedWindows,
                 device: Any, feature_settings: Mapping[str, Any] | None = None,
                 precision: str = "fp32") -> torch.Tensor:
    """Frozen-backbone embeddings of every window as one tensor (:func:`embed_rows`, all read at once)."""
    return embed_rows(model, settings, features, windows, device, feature_settings, precision)[:]


@torch.no_grad()
def embed_module(module: torch.nn.Module, features: torch.Tensor, device: Any, batch_size: int = 32,
                 precision: str = "fp32") -> torch.Tensor:
    """``module``'s outputs for ``features``, computed in batches without gradients (under ``precision``'s
    autocast), returned on the CPU as float32."""
    device = torch.device(device)
    module = module.to(device).eval()
    parts = []
    for i in range(0, len(features), batch_size):
        with autocast(device, precision):
            parts.append(module(to_device(features[i:i + batch_size], device)).float().cpu())
    return torch.cat(parts) if parts else torch.zeros(0)
