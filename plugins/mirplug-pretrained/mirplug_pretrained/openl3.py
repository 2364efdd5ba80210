"""Backbone ``openl3``: the Look, Listen and Learn (L3-Net) audio embedding (Cramer et al., ICASSP 2019).

A port of ``torchopenl3`` 1.0.1 (Apache-2.0, github.com/torchopenl3/torchopenl3), itself a PyTorch
port of ``openl3`` (MIT, Music and Audio Research Lab, NYU). torchopenl3 cannot be installed as a
dependency: its package imports ``collections.Iterable`` (gone since Python 3.10) on import, and it
pins resampy < 0.3. The network here is written anew with the same module and buffer names, so the
published files (``torchopenl3_<input_repr>_<content_type>_<embedding_dim>.pth.tar``, state dicts that
also hold the front end's DFT kernels and mel basis) load unchanged, and their front-end tensors are
used as published.

* 48 kHz mono, 1 s frames every ``hop_seconds`` (openl3's default 0.1 s); with ``center`` (the
  default) half a frame of zeros goes first, so frame ``i`` is centred at ``i * hop_seconds``; the
  end is zero-padded to a whole number of hops;
* front end as kapre 0.1.4 computed it: a DFT as a strided convolution (periodic Hann window) of 512
  points (``linear``, 257 bins) or of 2048 points mapped to 128 or 256 HTK mel bands (``mel128``,
  ``mel256``, "same" padding), all with a hop of 242 samples; magnitude in dB relative to the
  frame's maximum, floored at -80 dB;
* batch norm, then four pairs of 3x3 convolutions (64, 128, 256, 512 channels; batch norm and ReLU
  after each; 2x2 max pooling after the first three pairs), a last 3x3 convolution of 512 and a max
  pooling to 512 (one cell) or 6144 (4x3 cells) numbers, flattened channel-last as Keras did.

``content_type`` picks the weights trained on music or on environmental videos (AudioSet).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mirplug import ConfigError
from mirplug_pretrained.base import PatchBackbone
from mirplug_pretrained.weights import WeightsFile, load_into, load_state_dict, locate

SAMPLE_RATE = 48000
SPECTROGRAM_HOP = 242
POOLING = {"linear": {512: (32, 24), 6144: (8, 8)}, "mel128": {512: (16, 24), 6144: (4, 8)},
           "mel256": {512: (32, 24), 6144: (8, 8)}}
CHANNELS = (64, 64, 128, 128, 256, 256, 512)  # conv2d_1 .. conv2d_7
BN_EPSILON = 1e-3  # Keras


def weights_file(input_repr: str, content_type: str, embedding_dim: int) -> WeightsFile:
    """The published torchopenl3 file for one configuration."""
    name = f"torchopenl3_{input_repr}_{content_type}_{embedding_dim}.pth.tar"
    return WeightsFile(name, f"https://github.com/torchopenl3/torchopenl3-models/raw/master/{name}")


def dft_kernels(n_dft: int) -> tuple[np.ndarray, np.ndarray]:
    """Real and imaginary DFT rows times a periodic Hann window, ``(n_dft // 2 + 1, 1, n_dft)`` each."""
    t = np.arange(n_dft)
    frequencies = np.arange(n_dft // 2 + 1)[:, None] * 2 * np.pi / n_dft
    window = (0.5 - 0.5 * np.cos(2 * np.pi * t / n_dft)).astype(np.float32)
    real = np.cos(frequencies * t) * window
    imaginary = -np.sin(frequencies * t) * window
    return real[:, None, :].astype(np.float32), imaginary[:, None, :].astype(np.float32)


def htk_mel_basis(n_mels: int, n_dft: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``(n_mels, n_dft // 2 + 1)`` HTK-scale triangles over 0 .. Nyquist, each normalised to sum 1.

    What torchopenl3 asks librosa for (``htk=True, norm=1``). The published files carry the basis
    their exporter computed, which is what the backbone then uses.
    """
    def to_mel(hertz: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + hertz / 700.0)

    def to_hertz(mel: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)

    bins = np.linspace(0, sample_rate / 2, n_dft // 2 + 1)
    edges = to_hertz(np.linspace(to_mel(np.array(0.0)), to_mel(np.array(sample_rate / 2)), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    sums = weights.sum(axis=1, keepdims=True)
    return (weights / np.where(sums > 0, sums, 1.0)).astype(np.float32)


class KapreSpectrogram(nn.Module):
    """One 1 s frame ``(batch, 1, 48000)`` -> dB spectrogram ``(batch, 1, bins, frames)``, as kapre 0.1.4."""

    def __init__(self, input_repr: str) -> None:
        super().__init__()
        self.mel = input_repr != "linear"
        self.n_dft = 2048 if self.mel else 512
        real, imaginary = dft_kernels(self.n_dft)
        self.register_buffer("dft_real_kernels", torch.from_numpy(real))
        self.register_buffer("dft_imag_kernels", torch.from_numpy(imaginary))
        if self.mel:
            self.register_buffer("mel_basis", torch.from_numpy(htk_mel_basis(int(input_repr[3:]), self.n_dft)))
            # Keras "same" padding for a 1 s input, as torchopenl3 computes it
            remainder = SAMPLE_RATE % SPECTROGRAM_HOP
            total = max(self.n_dft - (remainder or SPECTROGRAM_HOP), 0)
            self.padding = (total // 2, total - total // 2)
        else:
            self.padding = (0, 0)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = F.pad(frames, self.padding)
        power = (F.conv1d(x, self.dft_real_kernels, stride=SPECTROGRAM_HOP) ** 2
                 + F.conv1d(x, self.dft_imag_kernels, stride=SPECTROGRAM_HOP) ** 2)
        if self.mel:
            power = torch.matmul(self.mel_basis, power)
        magnitude = torch.sqrt(power)
        decibels = 10.0 * torch.log(torch.clamp(magnitude, min=1e-10)) / np.float32(np.log(10.0))
        decibels = decibels - decibels.amax(dim=(1, 2), keepdim=True)
        return torch.clamp(decibels, min=-80.0).unsqueeze(1)


class L3Audio(nn.Module):
    """The L3-Net audio tower with torchopenl3's parameter names; ``(batch, 1, 48000)`` -> embeddings."""

    def __init__(self, input_repr: str, embedding_dim: int) -> None:
        super().__init__()
        self.pool = POOLING[input_repr][embedding_dim]
        self.speclayer = KapreSpectrogram(input_repr)
        self.batch_normalization_1 = nn.BatchNorm2d(1, eps=BN_EPSILON)
        channels = 1
        for index, out in enumerate(CHANNELS, start=1):
            setattr(self, f"conv2d_{index}", nn.Conv2d(channels, out, 3))
            setattr(self, f"batch_normalization_{index + 1}", nn.BatchNorm2d(out, eps=BN_EPSILON))
            channels = out
        self.audio_embedding_layer = nn.Conv2d(channels, 512, 3)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = self.batch_normalization_1(self.speclayer(frames))
        for index in range(1, len(CHANNELS) + 1):
            conv = getattr(self, f"conv2d_{index}")
            norm = getattr(self, f"batch_normalization_{index + 1}")
            x = F.relu(norm(conv(F.pad(x, (1, 1, 1, 1)))))
            if index in (2, 4, 6):
                x = F.max_pool2d(x, 2)
        x = self.audio_embedding_layer(F.pad(x, (1, 1, 1, 1)))
        x = F.max_pool2d(x, self.pool)
        return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)


class OpenL3(PatchBackbone):
    """OpenL3: 1 s frames of 48 kHz audio every ``hop_seconds`` -> 512- or 6144-d embeddings."""

    name = "openl3"
    sample_rate = SAMPLE_RATE
    patch_seconds = 1.0

    def __init__(self, input_shape: tuple[int, ...] = (), frame_rate: float | None = None,
                 content_type: str = "music", input_repr: str = "mel256", embedding_dim: int = 512,
                 hop_seconds: float = 0.1, center: bool = True, mode: str = "frozen", head: str = "linear",
                 weights_path: str | None = None, download: bool = False) -> None:
        super().__init__(frame_rate, mode, head, hop_seconds)
        if input_repr not in POOLING or embedding_dim not in POOLING[input_repr]:
            raise ConfigError(f"backbone openl3: input_repr={input_repr} embedding_dim={embedding_dim} is not a "
                              f"published model; input_repr: {', '.join(POOLING)}; embedding_dim: 512 or 6144")
        self.center = center
        self.first_centre_seconds = 0.0 if center else 0.5
        self.embedding_dim = embedding_dim
        self.net = L3Audio(input_repr, embedding_dim)
        path = locate(self.name, weights_file(input_repr, content_type, embedding_dim), weights_path, download)
        load_into(self.net, load_state_dict(path, self.name), path, self.name)
        self.freeze_if_asked()

    def embed_patches(self, waveform: torch.Tensor) -> torch.Tensor:
        frame, hop = self.patch_samples, self.hop_samples
        if self.center:
            waveform = F.pad(waveform, (frame // 2, 0))
        length = waveform.shape[-1]
        padded = frame if length <= frame else frame + -(-(length - frame) // hop) * hop
        waveform = F.pad(waveform, (0, padded - length))
        frames = waveform.unfold(-1, frame, hop)  # (batch, frames, 48000)
        batch, n_frames = frames.shape[:2]
        return self.net(frames.reshape(batch * n_frames, 1, frame)).reshape(batch, n_frames, -1)
