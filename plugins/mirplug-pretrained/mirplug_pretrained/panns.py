"""Backbone ``panns``: CNN14 of the Pretrained Audio Neural Networks (Kong et al., IEEE/ACM TASLP 2020).

A port of ``Cnn14`` from qiuqiangkong/audioset_tagging_cnn ``pytorch/models.py`` (MIT, Qiuqiang Kong),
as packaged in ``panns-inference`` with ``torchlibrosa`` front ends. panns-inference is not used as
a dependency: importing it downloads AudioSet's label file with wget and it downloads its checkpoint
into ``~/panns_data`` on first use. The network is written anew with the same module and parameter
names, so the published checkpoint (``Cnn14_mAP=0.431.pth``, Zenodo record 3987831: a dict whose
``model`` entry is the state dict, front-end DFT kernels and mel filters included) loads unchanged,
and its front-end tensors are used as published.

* 32 kHz mono; STFT of 1024 points every 320 samples (10 ms), periodic Hann window, centred frames
  with reflect padding, as a strided convolution (torchlibrosa); power spectrum -> 64 Slaney mel
  bands from 50 to 14000 Hz (librosa's defaults) -> ``10 log10(max(mel, 1e-10))``;
* batch norm over the mel bands, six blocks of two 3x3 convolutions with batch norm and ReLU
  (64 .. 2048 channels; 2x2 average pooling after the first five), mean over frequency, then max
  plus mean over time -> ``pooled`` (2048), ``fc1`` with ReLU -> ``embedding`` (2048), and the
  AudioSet classifier -> ``clipwise`` (527 sigmoid probabilities).

Dropout (0.2 after each block, 0.5 before and after ``fc1``) is active only when fine-tuning.
CNN14 gives one vector per input: ``forward`` embeds each window whole (no frame embeddings).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mirplug import Backbone, ConfigError
from mirplug_pretrained.weights import WeightsFile, load_into, load_state_dict, locate

SAMPLE_RATE = 32000
N_FFT = 1024
HOP = 320
N_MELS = 64
FMIN, FMAX = 50.0, 14000.0
CLASSES = 527
BLOCK_CHANNELS = (64, 128, 256, 512, 1024, 2048)
MIN_SAMPLES = 32 * HOP  # five 2x2 poolings need 32 frames
WEIGHTS = WeightsFile("Cnn14_mAP=0.431.pth", "https://zenodo.org/record/3987831/files/Cnn14_mAP%3D0.431.pth?download=1",
                      extra_folders=("~/panns_data",))
LAYERS = {"embedding": 2048, "pooled": 2048, "clipwise": CLASSES}


def slaney_mel_filters(sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS,
                       fmin: float = FMIN, fmax: float = FMAX) -> np.ndarray:
    """``(n_fft // 2 + 1, n_mels)``: librosa.filters.mel's defaults (Slaney scale and area normalisation)."""
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0

    def to_mel(hertz: np.ndarray) -> np.ndarray:
        hertz = np.asarray(hertz, dtype=np.float64)
        return np.where(hertz >= min_log_hz, min_log_mel + np.log(np.maximum(hertz, 1e-10) / min_log_hz) / logstep,
                        hertz / f_sp)

    def to_hertz(mel: np.ndarray) -> np.ndarray:
        return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)

    bins = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = to_hertz(np.linspace(to_mel(np.array(fmin)), to_mel(np.array(fmax)), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    weights = np.maximum(0.0, np.minimum(-ramps[:-2] / widths[:-1, None], ramps[2:] / widths[1:, None]))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.T.astype(np.float32)


class _STFT(nn.Module):
    """torchlibrosa's STFT: DFT rows times a periodic Hann window as two bias-free convolutions."""

    def __init__(self) -> None:
        super().__init__()
        t = np.arange(N_FFT)
        angles = 2 * np.pi * np.outer(np.arange(N_FFT // 2 + 1), t) / N_FFT
        window = 0.5 - 0.5 * np.cos(2 * np.pi * t / N_FFT)
        self.conv_real = nn.Conv1d(1, N_FFT // 2 + 1, N_FFT, stride=HOP, bias=False)
        self.conv_imag = nn.Conv1d(1, N_FFT // 2 + 1, N_FFT, stride=HOP, bias=False)
        with torch.no_grad():
            self.conv_real.weight.copy_(torch.from_numpy(np.cos(angles) * window)[:, None, :])
            self.conv_imag.weight.copy_(torch.from_numpy(-np.sin(angles) * window)[:, None, :])
        self.requires_grad_(False)


class _Spectrogram(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stft = _STFT()

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(batch, time)`` -> power spectrogram ``(batch, 1, frames, 513)``."""
        x = F.pad(waveform[:, None, :], (N_FFT // 2, N_FFT // 2), mode="reflect")
        real, imaginary = self.stft.conv_real(x), self.stft.conv_imag(x)
        return (real ** 2 + imaginary ** 2).transpose(1, 2)[:, None]


class _LogMel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.melW = nn.Parameter(torch.from_numpy(slaney_mel_filters()), requires_grad=False)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        return 10.0 * torch.log10(torch.clamp(torch.matmul(power, self.melW), min=1e-10))


class _ConvBlock(nn.Module):
    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels_out)
        self.bn2 = nn.BatchNorm2d(channels_out)

    def forward(self, x: torch.Tensor, pool: bool) -> torch.Tensor:
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        return F.avg_pool2d(x, 2) if pool else x


class Cnn14(nn.Module):
    """CNN14 with the parameter names of the published checkpoint; returns every exposed layer."""

    def __init__(self) -> None:
        super().__init__()
        self.spectrogram_extractor = _Spectrogram()
        self.logmel_extractor = _LogMel()
        self.bn0 = nn.BatchNorm2d(N_MELS)
        channels = 1
        for index, out in enumerate(BLOCK_CHANNELS, start=1):
            setattr(self, f"conv_block{index}", _ConvBlock(channels, out))
            channels = out
        self.fc1 = nn.Linear(2048, 2048)
        self.fc_audioset = nn.Linear(2048, CLASSES)

    def forward(self, waveform: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.logmel_extractor(self.spectrogram_extractor(waveform))  # (batch, 1, frames, mels)
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        for index in range(1, len(BLOCK_CHANNELS) + 1):
            x = getattr(self, f"conv_block{index}")(x, pool=index < len(BLOCK_CHANNELS))
            x = F.dropout(x, p=0.2, training=self.training)
        x = x.mean(dim=3)
        pooled = x.amax(dim=2) + x.mean(dim=2)
        hidden = F.relu(self.fc1(F.dropout(pooled, p=0.5, training=self.training)))
        # as upstream: the embedding is fc1 after dropout, the classifier sees fc1 before it
        embedding = F.dropout(hidden, p=0.5, training=self.training)
        return {"pooled": pooled, "embedding": embedding, "clipwise": torch.sigmoid(self.fc_audioset(hidden))}


class PANNs(Backbone):
    """CNN14 on each whole waveform window at 32 kHz -> ``embedding`` (2048), ``pooled`` or ``clipwise``."""

    name = "panns"
    sample_rate = SAMPLE_RATE
    standardize_input = False  # the network has its own batch norm over the log mel

    def __init__(self, input_shape: tuple[int, ...] = (), frame_rate: float | None = None, layer: str = "embedding",
                 mode: str = "frozen", head: str = "linear", weights_path: str | None = None,
                 download: bool = False) -> None:
        super().__init__()
        if frame_rate is not None and int(round(frame_rate)) != SAMPLE_RATE:
            raise ConfigError(f"backbone panns needs 32 kHz waveforms, got {frame_rate:g} Hz")
        if layer not in LAYERS:
            raise ConfigError(f"backbone.layer={layer!r}: panns has {', '.join(LAYERS)}")
        self.layer, self.embedding_dim = layer, LAYERS[layer]
        self.mode, self.head_kind = mode, head
        self.frozen = mode == "frozen"
        self.net = Cnn14()
        path = locate(self.name, WEIGHTS, weights_path, download)
        load_into(self.net, load_state_dict(path, self.name, key="model"), path, self.name)
        if self.frozen:
            self.net.requires_grad_(False)
        self._warned_short = False

    def train(self, mode: bool = True) -> PANNs:
        """Frozen weights keep the checkpoint's batch-norm statistics (and no dropout) while the head trains."""
        super().train(mode)
        if self.frozen:
            self.net.eval()
        return self

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        waveform = features.reshape(features.shape[0], -1).float()
        if waveform.shape[-1] < MIN_SAMPLES:
            if not self._warned_short:
                import warnings

                warnings.warn(f"panns: windows shorter than {MIN_SAMPLES / SAMPLE_RATE:.2f} s are zero-padded",
                              stacklevel=2)
                self._warned_short = True
            waveform = F.pad(waveform, (0, MIN_SAMPLES - waveform.shape[-1]))
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            return self.net(waveform)[self.layer]
