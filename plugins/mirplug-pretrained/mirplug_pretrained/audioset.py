"""Backbones ``vggish`` and ``yamnet``: Google's AudioSet models (Hershey et al. 2017; Plakal & Ellis 2020).

The networks are the PyTorch modules of the ``torch-vggish-yamnet`` package (MIT, Stefano Giacomelli,
after Haochen Wang's torch_audioset), whose published weight files were converted from the TensorFlow
checkpoints of tensorflow/models research/audioset (Apache-2.0): ``vggish_orig.pth`` and ``yamnet.pth``.
torchvggish's ``vggish-10086976.pth`` has the same layout and is accepted too.

The input is computed here, after the reference front end (tensorflow/models ``vggish/mel_features.py``,
the numpy code VGGish was trained with, and ``yamnet/features.py``, its TensorFlow equivalent) rather
than with the package's torchaudio transform, which centres frames and builds its mel filters in Hz:

* 16 kHz mono; frames of 25 ms (400 samples) every 10 ms, not centred; periodic Hann window;
  magnitude of a 512-point FFT;
* 64 mel bands from 125 to 7500 Hz, HTK mel scale (``1127 ln(1 + f / 700)``), triangles built on
  the mel axis, DC bin left out;
* ``log(mel + 0.01)`` for VGGish, ``log(mel + 0.001)`` for YAMNet;
* patches of 96 frames (0.96 s): VGGish every 0.96 s (whole patches only), YAMNet every 0.48 s
  with the end zero-padded so the last samples fall in a patch, as ``yamnet/features.py`` does.

Layers: VGGish ``embedding`` (128-d, TF ``fc2``; the AudioSet release additionally applies a PCA
and 8-bit quantisation, not done here) or ``fc1`` (4096-d); YAMNet ``embedding`` (1024-d, the
pooled MobileNet features) or ``scores`` (521 AudioSet class probabilities).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from mirplug import ConfigError
from mirplug_pretrained.base import PatchBackbone, sliding_patches
from mirplug_pretrained.weights import WeightsFile, load_into, load_state_dict, locate

SAMPLE_RATE = 16000
WINDOW_SAMPLES = 400  # 25 ms
HOP_SAMPLES = 160  # 10 ms
FFT_SIZE = 512
N_MELS = 64
PATCH_FRAMES = 96  # 0.96 s
MIN_PATCH_SAMPLES = WINDOW_SAMPLES + (PATCH_FRAMES - 1) * HOP_SAMPLES  # 15600: one whole patch

VGGISH_WEIGHTS = WeightsFile("vggish_orig.pth", "https://github.com/w-hc/vggish/releases/download/v0.1/vggish_orig.pth",
                             alternatives=("vggish-10086976.pth",))
YAMNET_WEIGHTS = WeightsFile("yamnet.pth", "https://github.com/w-hc/torch_audioset/releases/download/v0.1/yamnet.pth")
VGGISH_LAYERS = {"embedding": 128, "fc1": 4096}
YAMNET_LAYERS = {"embedding": 1024, "scores": 521}


def hertz_to_mel(frequencies_hertz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale, as mel_features.py: ``1127 ln(1 + f / 700)``."""
    return 1127.0 * np.log(1.0 + np.asarray(frequencies_hertz, dtype=np.float64) / 700.0)


def mel_matrix(n_mels: int = N_MELS, n_bins: int = FFT_SIZE // 2 + 1, sample_rate: int = SAMPLE_RATE,
               lower_hertz: float = 125.0, upper_hertz: float = 7500.0) -> np.ndarray:
    """``(n_bins, n_mels)`` weights: triangles on the mel axis over the FFT bins, DC bin zero."""
    bins_mel = hertz_to_mel(np.linspace(0.0, sample_rate / 2.0, n_bins))
    edges = np.linspace(float(hertz_to_mel(lower_hertz)), float(hertz_to_mel(upper_hertz)), n_mels + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (centre - lower)
    falling = (upper - bins_mel[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return weights


class AudioSetLogMel(nn.Module):
    """Waveform ``(batch, time)`` at 16 kHz -> stabilised log mel ``(batch, frames, 64)``, 100 frames/s."""

    def __init__(self, log_offset: float) -> None:
        super().__init__()
        self.log_offset = log_offset
        self.register_buffer("window", torch.hann_window(WINDOW_SAMPLES, periodic=True, dtype=torch.float64)
                             .float(), persistent=False)
        self.register_buffer("mel", torch.from_numpy(mel_matrix()).float(), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        frames = waveform.unfold(-1, WINDOW_SAMPLES, HOP_SAMPLES)  # (batch, frames, 400)
        magnitude = torch.fft.rfft(frames * self.window, n=FFT_SIZE).abs()
        return torch.log(magnitude @ self.mel + self.log_offset)


def _hop_frames(hop_seconds: float) -> int:
    hop = int(round(hop_seconds * SAMPLE_RATE / HOP_SAMPLES))
    if hop < 1:
        raise ConfigError(f"backbone.hop_seconds={hop_seconds:g} is shorter than one 10 ms frame")
    return hop


class VGGish(PatchBackbone):
    """VGGish: 0.96 s log-mel patches -> 128-d embeddings (or the 4096-d ``fc1`` layer)."""

    name = "vggish"
    sample_rate = SAMPLE_RATE
    patch_seconds = PATCH_FRAMES * HOP_SAMPLES / SAMPLE_RATE

    def __init__(self, input_shape: tuple[int, ...] = (), frame_rate: float | None = None, layer: str = "embedding",
                 hop_seconds: float = 0.96, mode: str = "frozen", head: str = "linear",
                 weights_path: str | None = None, download: bool = False) -> None:
        super().__init__(frame_rate, mode, head, hop_seconds)
        from torch_vggish_yamnet.vggish.model import VGGish as VGGishNet

        if layer not in VGGISH_LAYERS:
            raise ConfigError(f"backbone.layer={layer!r}: vggish has {', '.join(VGGISH_LAYERS)}")
        self.layer, self.embedding_dim = layer, VGGISH_LAYERS[layer]
        self.hop_frames = _hop_frames(hop_seconds)
        self.log_mel = AudioSetLogMel(log_offset=0.01)
        self.net = VGGishNet()
        path = locate(self.name, VGGISH_WEIGHTS, weights_path, download)
        load_into(self.net, load_state_dict(path, self.name), path, self.name)
        self.freeze_if_asked()

    def embed_patches(self, waveform: torch.Tensor) -> torch.Tensor:
        waveform = self.pad_short(waveform, MIN_PATCH_SAMPLES)
        patches = sliding_patches(self.log_mel(waveform), PATCH_FRAMES, self.hop_frames)
        batch, n_patches = patches.shape[:2]
        x = self.net.features(patches.reshape(batch * n_patches, 1, PATCH_FRAMES, N_MELS))
        x = x.permute(0, 2, 3, 1).reshape(batch * n_patches, -1)  # TF's (frames, bands, channels) order
        layers = self.net.embeddings  # Linear, ReLU, Linear, ReLU, Linear, ReLU
        x = layers[3](layers[2](layers[1](layers[0](x))))
        if self.layer == "embedding":
            x = layers[5](layers[4](x))
        return x.reshape(batch, n_patches, -1)


class YAMNet(PatchBackbone):
    """YAMNet (MobileNet v1 on AudioSet): 0.96 s patches every 0.48 s -> 1024-d embeddings or 521 scores."""

    name = "yamnet"
    sample_rate = SAMPLE_RATE
    patch_seconds = PATCH_FRAMES * HOP_SAMPLES / SAMPLE_RATE

    def __init__(self, input_shape: tuple[int, ...] = (), frame_rate: float | None = None, layer: str = "embedding",
                 hop_seconds: float = 0.48, mode: str = "frozen", head: str = "linear",
                 weights_path: str | None = None, download: bool = False) -> None:
        super().__init__(frame_rate, mode, head, hop_seconds)
        from torch_vggish_yamnet.yamnet.model import YAMNet as YAMNetNet

        if layer not in YAMNET_LAYERS:
            raise ConfigError(f"backbone.layer={layer!r}: yamnet has {', '.join(YAMNET_LAYERS)}")
        self.layer, self.embedding_dim = layer, YAMNET_LAYERS[layer]
        self.hop_frames = _hop_frames(hop_seconds)
        self.log_mel = AudioSetLogMel(log_offset=0.001)
        self.net = YAMNetNet()
        path = locate(self.name, YAMNET_WEIGHTS, weights_path, download)
        load_into(self.net, load_state_dict(path, self.name), path, self.name)
        self.freeze_if_asked()

    def pad_to_patches(self, waveform: torch.Tensor) -> torch.Tensor:
        """Zero-pad the end as yamnet/features.py does: at least one patch, then whole hops."""
        hop_samples = self.hop_frames * HOP_SAMPLES
        n_samples = max(waveform.shape[-1], MIN_PATCH_SAMPLES)
        padded = MIN_PATCH_SAMPLES + math.ceil((n_samples - MIN_PATCH_SAMPLES) / hop_samples) * hop_samples
        return nn.functional.pad(waveform, (0, padded - waveform.shape[-1]))

    def embed_patches(self, waveform: torch.Tensor) -> torch.Tensor:
        patches = sliding_patches(self.log_mel(self.pad_to_patches(waveform)), PATCH_FRAMES, self.hop_frames)
        batch, n_patches = patches.shape[:2]
        embedding, logits = self.net(patches.reshape(batch * n_patches, 1, PATCH_FRAMES, N_MELS))
        out = embedding.flatten(1) if self.layer == "embedding" else torch.sigmoid(logits)
        return out.reshape(batch, n_patches, -1)
