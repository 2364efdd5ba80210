"""What the pretrained backbones share: input checks, frozen/finetune modes, patches, frame embeddings.

A subclass sets :attr:`sample_rate`, :attr:`patch_seconds` and :attr:`hop_seconds`, builds its
network in ``self.net`` and implements :meth:`embed_patches`. The waveform window is cut into
patches (the model's own input length, e.g. 0.96 s for VGGish) every ``hop_seconds``;
:meth:`frames` gives one embedding per patch, ``forward`` their mean.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from mirplug import Backbone, ConfigError


class PatchBackbone(Backbone):
    """Waveform windows ``(batch, 1, time)`` at :attr:`sample_rate` -> patch embeddings -> their mean."""

    name: str = ""
    sample_rate: int = 16000
    patch_seconds: float = 1.0
    hop_seconds: float = 1.0
    # Centre time of patch 0 in seconds (a centred analysis, as OpenL3's, puts it at 0).
    first_centre_seconds: float | None = None
    standardize_input = False  # each network normalises its own input (batch norm or a fixed log scale)
    net: nn.Module

    def __init__(self, frame_rate: float | None, mode: str, head: str, hop_seconds: float) -> None:
        super().__init__()
        if frame_rate is not None and int(round(frame_rate)) != self.sample_rate:
            raise ConfigError(f"backbone {self.name} needs {self.sample_rate / 1000:g} kHz waveforms, "
                              f"got {frame_rate:g} Hz")
        self.mode, self.head_kind = mode, head
        self.frozen = mode == "frozen"
        self.hop_seconds = float(hop_seconds)
        self.frame_rate = 1.0 / self.hop_seconds
        self._warned_short = False

    def freeze_if_asked(self) -> None:
        """Call once the weights are loaded: a frozen network gets no gradients."""
        if self.frozen:
            self.net.requires_grad_(False)

    def train(self, mode: bool = True) -> PatchBackbone:
        """Frozen weights keep the checkpoint's batch-norm statistics (and no dropout) while the head trains."""
        super().train(mode)
        if self.frozen:
            self.net.eval()
        return self

    @property
    def patch_samples(self) -> int:
        """Samples in one patch."""
        return int(round(self.patch_seconds * self.sample_rate))

    @property
    def hop_samples(self) -> int:
        """Samples between the starts of two patches."""
        return max(1, int(round(self.hop_seconds * self.sample_rate)))

    def pad_short(self, waveform: torch.Tensor, minimum: int) -> torch.Tensor:
        """Zero-pad windows shorter than ``minimum`` samples at the end (warned once)."""
        if waveform.shape[-1] >= minimum:
            return waveform
        if not self._warned_short:
            warnings.warn(f"{self.name}: windows of {waveform.shape[-1] / self.sample_rate:.3f} s are shorter than "
                          f"its {minimum / self.sample_rate:.3f} s input; zero-padding them (raise data.clip_seconds)",
                          stacklevel=3)
            self._warned_short = True
        return nn.functional.pad(waveform, (0, minimum - waveform.shape[-1]))

    def embed_patches(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(batch, time)`` -> patch embeddings ``(batch, patches, embedding_dim)``."""
        raise NotImplementedError

    def frames(self, features: torch.Tensor) -> torch.Tensor:
        """One embedding per patch, ``(batch, patches, embedding_dim)``, ``frame_rate`` per second."""
        waveform = features.reshape(features.shape[0], -1).float()
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            return self.embed_patches(waveform)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.frames(features).mean(dim=1)

    def timestamps(self, n_frames: int) -> torch.Tensor:
        """Centre time in seconds of each patch embedding."""
        first = self.patch_seconds / 2 if self.first_centre_seconds is None else self.first_centre_seconds
        return first + torch.arange(n_frames, dtype=torch.float32) * self.hop_seconds


def sliding_patches(frames: torch.Tensor, patch_frames: int, hop_frames: int) -> torch.Tensor:
    """``(batch, frames, bands)`` -> every full patch ``(batch, patches, patch_frames, bands)`` (none dropped
    before the last full one)."""
    n_patches = 1 + (frames.shape[1] - patch_frames) // hop_frames
    return frames.unfold(1, patch_frames, hop_frames)[:, :n_patches].transpose(2, 3)
