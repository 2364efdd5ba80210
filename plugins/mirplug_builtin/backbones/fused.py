"""Backbone ``fused``: several frozen backbones and clip-level representations, concatenated.

``backbone=fused backbone.parts=musicnn+mfcc+chroma`` gives, per window, the embedding of every part
side by side: a part named like a backbone is that backbone with its default options (it must run frozen
on raw audio: musicnn, vggish, openl3, ...); a part named like a representation is that representation
pooled over time (mean and standard deviation of every channel; a clip-level representation as it is).
The parts hear the same windows, resampled to each part's own rate. Parts are declared through
:meth:`mirplug.components.Backbone.parts`, so the frozen-embedding cache stores each part on its own
(keyed as the backbone alone would be: ``backbone=musicnn`` and ``backbone=fused parts=musicnn+mfcc``
share the musicnn embeddings). The parts differ in scale by orders of magnitude, so their concatenation
is meant for a head that standardises every dimension: the default head is ``probe``
(:mod:`mirplug.probe`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mirplug import Backbone, BackboneSpec, ConfigError, Representation, UnknownComponentError, component_lookup


class PooledRepresentation(nn.Module):
    """Waveform ``(batch, time)`` -> a representation's features pooled over time ``(batch, 2 * channels)``
    (mean and standard deviation per channel), or its clip vector ``(batch, dim)`` as it is."""

    def __init__(self, representation: Representation, from_rate: int) -> None:
        super().__init__()
        self.representation = representation
        self.from_rate = from_rate

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        waveform = waveform.reshape(waveform.shape[0], -1)  # (batch, 1, time) from the waveform representation
        if self.from_rate != self.representation.sample_rate:
            from mirplug_builtin.torchaudio_ops import resample

            waveform = resample(waveform, self.from_rate, self.representation.sample_rate)
        features = self.representation(waveform)
        if features.dim() == 2:
            return features
        flat = features.reshape(features.shape[0], -1, features.shape[-1])
        return torch.cat([flat.mean(dim=-1), flat.std(dim=-1, unbiased=False)], dim=1)


class Resampled(nn.Module):
    """A waveform backbone fed at its own rate."""

    def __init__(self, backbone: Backbone, from_rate: int, to_rate: int) -> None:
        super().__init__()
        self.backbone, self.from_rate, self.to_rate = backbone, from_rate, to_rate

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        from mirplug_builtin.torchaudio_ops import resample

        waveform = waveform.reshape(waveform.shape[0], 1, -1)
        return self.backbone(resample(waveform, self.from_rate, self.to_rate))


def _part(lookup: Any, name: str, sample_rate: int, window_samples: int) -> tuple[dict[str, Any], nn.Module, int]:
    """(options, module, embedding size) of the part called ``name`` (``lookup``: :func:`mirplug.component_lookup`)."""
    try:
        spec = lookup("backbone", name)
    except UnknownComponentError:
        spec = None
    if spec is not None:
        if not isinstance(spec, BackboneSpec) or spec.expects != "waveform" or name == "fused":
            raise ConfigError(f"backbone.parts: backbone '{name}' does not take raw audio; a part is a frozen "
                              f"pretrained backbone (musicnn, ...) or a representation (mfcc, chroma, ...)")
        options = spec.option_defaults()
        rate = spec.sample_rate or sample_rate
        samples = max(1, round(window_samples * rate / sample_rate))
        backbone = spec.build(options, input_shape=(samples,), frame_rate=float(rate))
        if not backbone.frozen:
            raise ConfigError(f"backbone.parts: backbone '{name}' does not run frozen with its defaults; a fused "
                              f"part must be a frozen pretrained backbone")
        backbone.eval()
        module: nn.Module = backbone if rate == sample_rate else Resampled(backbone, sample_rate, rate)
        return ({key: value for key, value in options.items() if key not in spec.head_options}, module,
                int(backbone.embedding_dim))
    try:
        spec = lookup("representation", name)
    except UnknownComponentError:
        raise ConfigError(f"backbone.parts: '{name}' is neither a backbone nor a representation; see "
                          f"'mirplug list backbones' and 'mirplug list representations'") from None
    options = spec.option_defaults()
    representation = spec.build(options)
    pooled = PooledRepresentation(representation, sample_rate)
    with torch.no_grad():
        dim = int(pooled(torch.zeros(1, window_samples)).shape[1])
    return {"representation": options, "pooling": "mean+std over time"}, pooled, dim


class Fused(Backbone):
    """Waveform windows at ``sample_rate`` -> the concatenated embeddings of the parts ``(batch, sum of dims)``."""

    frozen = True
    standardize_input = False

    def __init__(self, input_shape: tuple[int, ...], frame_rate: float | None = None,
                 parts: str = "musicnn+mfcc+chroma", sample_rate: int = 16000, head: str = "probe") -> None:
        super().__init__()
        names = [name.strip() for name in parts.split("+") if name.strip()]
        if not names:
            raise ConfigError("backbone.parts is empty; name the parts joined by '+', e.g. musicnn+mfcc+chroma")
        if len(set(names)) != len(names):
            raise ConfigError(f"backbone.parts={parts} names a part twice")
        lookup = component_lookup()
        window = int(input_shape[-1])
        built = [_part(lookup, name, sample_rate, window) for name in names]
        self.part_names = names
        self.part_options = [options for options, _, _ in built]
        self.part_modules = nn.ModuleList([module for _, module, _ in built])
        self.part_dims = [dim for _, _, dim in built]
        self.embedding_dim = sum(self.part_dims)
        self.head_kind = head
        self.requires_grad_(False)

    def train(self, mode: bool = True) -> Fused:
        """The parts stay in evaluation mode (frozen batch-norm statistics)."""
        super().train(mode)
        self.part_modules.eval()
        return self

    def parts(self) -> list[tuple[str, dict[str, Any], nn.Module]]:
        return [(name, options, module) for name, options, module in
                zip(self.part_names, self.part_options, self.part_modules)]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.cat([module(features) for module in self.part_modules], dim=1)

    @staticmethod
    def input_sample_rate(options: dict[str, Any]) -> int:
        """The rate the runner decodes at: the ``sample_rate`` option."""
        return int(options.get("sample_rate", 16000))
