"""Generator 'myplugin': noise shaped like each class's average magnitude spectrum, with random phase.

The smallest class-conditional generator that is real: fitting averages the magnitude spectrum of
each class's training clips (smoothed over ``smoothing_bins``), sampling draws a seeded random phase
for it and inverts. mirplug does the rest: input checks, saving and loading with a checksum,
caching fitted generators, planning how many clips to sample and the quality report (on the
default :meth:`~mirplug.Generator.log_mel`).
"""

from __future__ import annotations

from typing import Any

import torch

from mirplug import Generator


class SpectrumNoise(Generator):
    """Per class: mean |rfft| of its training clips -> random-phase noise with that spectrum."""

    architecture = "myplugin"

    def representation(self) -> dict[str, Any]:
        # what a checkpoint is only valid for: a different smoothing makes other spectra
        return {"spectrum": "rfft magnitude", "smoothing_bins": int(self.options.get("smoothing_bins", 8))}

    def fit_model(self, waves: torch.Tensor, labels: torch.Tensor, seed: int, progress: Any,
                  save_folder: Any) -> dict[str, Any]:
        magnitude = torch.fft.rfft(waves, dim=1).abs()  # (n, bins)
        envelopes = torch.stack([magnitude[labels == label].mean(dim=0) for label in range(len(self.label_names))])
        width = int(self.options.get("smoothing_bins", 8))  # a moving average over frequency bins
        smoothed = torch.nn.functional.avg_pool1d(envelopes[:, None], width, stride=1, padding=width // 2,
                                                  count_include_pad=False)
        self.envelopes = smoothed[:, 0, : envelopes.shape[1]]
        if progress is not None:
            progress(1, 1, {})
        return {"steps": 1}

    def sample_model(self, labels: torch.Tensor, seed: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        phase = 2 * torch.pi * torch.rand(len(labels), self.envelopes.shape[1], generator=generator)
        spectrum = self.envelopes[labels] * torch.exp(1j * phase)
        waves = torch.fft.irfft(spectrum, n=self.clip_samples, dim=1)
        return waves.clamp(-1.0, 1.0).to(torch.float32)

    def model_state(self) -> dict[str, torch.Tensor]:
        return {"envelopes": self.envelopes}

    def restore_model(self, state: dict[str, torch.Tensor], config: dict[str, Any]) -> None:
        self.envelopes = state["envelopes"]
