"""Backbone ``musicnn``: the pretrained musicnn tagger (Pons & Serra, 2019) ported to PyTorch.

The weights are the TensorFlow v1 checkpoints shipped inside the ``musicnn`` PyPI package
(ISC license, copyright Jordi Pons and Xavier Serra), read with :mod:`.tfbundle`, so no
TensorFlow is needed. Install the package without its obsolete requirements::

    pip install --no-deps musicnn==0.1.0

The port follows ``musicnn/models.py`` (``build_musicnn``) and ``musicnn/extractor.py``:

* input: 16 kHz mono -> power mel spectrogram as librosa computed it for musicnn (n_fft 512,
  hop 256, periodic Hann window, centred frames with reflect padding, 96 Slaney mel bands
  with Slaney area normalisation), rounded to float16 as musicnn does, then
  ``log10(1 + 10000 x)``; 187-frame (3 s) patches;
* front end: batch norm, timbral convolutions 7x38 and 7x67 (204 filters each) and temporal
  convolutions 128x1, 64x1, 32x1 (51 filters each) with TensorFlow 'same' padding, each
  followed by ReLU, batch norm and a max over frequency;
* mid end: three 7-frame convolutions of 64 filters with residual connections; the
  front-end and mid-end outputs are concatenated (561 + 3x64 = 753 channels);
* back end: max and mean over time, batch norm, dense 200 (ReLU), batch norm
  (= ``penultimate``), dense 50 with sigmoid (= ``taggram``).

TensorFlow's batch norm epsilon is 1e-3 (PyTorch's default is 1e-5).
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mirplug import Backbone, ConfigError
from mirplug_builtin.representations.common import power_frames

SAMPLE_RATE = 16000
N_FFT = 512
HOP_LENGTH = 256
N_MELS = 96
PATCH_FRAMES = 187  # librosa.time_to_frames(3 s) + 1, as musicnn's extractor computes it
TF_BN_EPSILON = 1e-3
LAYER_DIMS = {"taggram": 50, "penultimate": 200, "pool": 1506}
INSTALL_HINT = "pip install --no-deps musicnn==0.1.0"


def checkpoint_prefix(weights: str) -> str:
    """The checkpoint prefix ``<musicnn package>/<weights>_musicnn/`` (the file prefix is empty)."""
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"backbone musicnn needs the musicnn package's weights; install them with: {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations))) / f"{weights}_musicnn"
    if not (folder / ".index").is_file():
        raise ConfigError(f"musicnn weights {folder}/.index not found; reinstall with: {INSTALL_HINT}")
    return f"{folder}/"


class LogMel(nn.Module):
    """Waveform ``(batch, time)`` at 16 kHz -> musicnn's log-compressed mel ``(batch, frames, 96)``."""

    def __init__(self) -> None:
        super().__init__()
        from mirplug_builtin.torchaudio_ops import mel_filterbank

        # Slaney mel scale and Slaney normalisation are librosa's defaults, which musicnn used.
        fbank = mel_filterbank(N_FFT // 2 + 1, 0.0, SAMPLE_RATE / 2, N_MELS, SAMPLE_RATE, norm="slaney",
                               mel_scale="slaney")
        self.register_buffer("fbank", fbank, persistent=False)
        self.register_buffer("window", torch.hann_window(N_FFT, periodic=True), persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        power = power_frames(waveform.float(), N_FFT, HOP_LENGTH, self.window)  # (batch, frames, freq)
        mel = torch.matmul(power, self.fbank)  # (batch, frames, mels)
        # musicnn rounds the mel to float16 and compresses it in float16 arithmetic (numpy keeps
        # the array's dtype); do the same so the port sees the values the model was run on. Where
        # 10000 * mel overflows float16 (mel > 6.55) musicnn gets infinity and NaN tags; there
        # the port compresses in float32 instead.
        half = mel.clamp(max=65504.0).to(torch.float16)
        compressed = torch.log10(half * 10000.0 + 1.0)
        fallback = torch.log10(10000.0 * half.to(torch.float32) + 1.0)
        return torch.where(torch.isfinite(compressed), compressed.to(torch.float32), fallback)


def _tf_same_pad(kernel: int) -> tuple[int, int]:
    """TensorFlow 'same' padding for stride 1: the extra sample goes after."""
    total = kernel - 1
    return total // 2, total - total // 2


class _ConvBlock(nn.Module):
    """Conv2d over ``(batch, 1, time, freq)`` -> ReLU -> batch norm -> max over frequency."""

    def __init__(self, filters: int, kernel: tuple[int, int], same_time_padding: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, filters, kernel)
        self.bn = nn.BatchNorm2d(filters, eps=TF_BN_EPSILON)
        self.time_padding = _tf_same_pad(kernel[0]) if same_time_padding else (0, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (0, 0, *self.time_padding))
        x = self.bn(F.relu(self.conv(x)))
        return x.amax(dim=3)  # (batch, filters, time)


class _MidConv(nn.Module):
    """A 7-frame convolution across all channels (TF: conv2d with a full-width kernel)."""

    def __init__(self, channels: int, filters: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, filters, 7)
        self.bn = nn.BatchNorm1d(filters, eps=TF_BN_EPSILON)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(F.relu(self.conv(F.pad(x, (3, 3)))))


class MusicnnNet(nn.Module):
    """musicnn on a log-mel patch ``(batch, frames, 96)``; returns every exposed layer."""

    def __init__(self, n_classes: int = 50, midend_filters: int = 64, backend_units: int = 200) -> None:
        super().__init__()
        self.input_bn = nn.BatchNorm2d(1, eps=TF_BN_EPSILON)
        timbral = int(1.6 * 128)
        temporal = int(1.6 * 32)
        self.f74 = _ConvBlock(timbral, (7, int(0.4 * N_MELS)), same_time_padding=True)
        self.f77 = _ConvBlock(timbral, (7, int(0.7 * N_MELS)), same_time_padding=True)
        self.s1 = _ConvBlock(temporal, (128, 1), same_time_padding=True)
        self.s2 = _ConvBlock(temporal, (64, 1), same_time_padding=True)
        self.s3 = _ConvBlock(temporal, (32, 1), same_time_padding=True)
        frontend = 2 * timbral + 3 * temporal
        self.mid1 = _MidConv(frontend, midend_filters)
        self.mid2 = _MidConv(midend_filters, midend_filters)
        self.mid3 = _MidConv(midend_filters, midend_filters)
        pooled = 2 * (frontend + 3 * midend_filters)
        self.pool_bn = nn.BatchNorm1d(pooled, eps=TF_BN_EPSILON)
        self.dense = nn.Linear(pooled, backend_units)
        self.dense_bn = nn.BatchNorm1d(backend_units, eps=TF_BN_EPSILON)
        self.output = nn.Linear(backend_units, n_classes)

    def forward(self, mel: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.input_bn(mel.unsqueeze(1))  # (batch, 1, time, freq)
        front = torch.cat([block(x) for block in (self.f74, self.f77, self.s1, self.s2, self.s3)], dim=1)
        mid1 = self.mid1(front)
        mid2 = self.mid2(mid1) + mid1
        mid3 = self.mid3(mid2) + mid2
        features = torch.cat([front, mid1, mid2, mid3], dim=1)  # (batch, 753, time)
        max_pool = features.amax(dim=2)
        mean_pool = features.mean(dim=2)
        # TF flattens the (channels, [max, mean]) pair channel-major: max and mean interleave.
        flat = torch.stack([max_pool, mean_pool], dim=2).flatten(1)
        penultimate = self.dense_bn(F.relu(self.dense(self.pool_bn(flat))))
        logits = self.output(penultimate)
        return {"taggram": torch.sigmoid(logits), "logits": logits, "penultimate": penultimate,
                "mean_pool": mean_pool, "max_pool": max_pool, "pool": torch.cat([mean_pool, max_pool], dim=1)}

    def load_tf_checkpoint(self, prefix: str | Path) -> None:
        """Copy the weights of a musicnn TF checkpoint (auto-named layers, in creation order)."""
        from mirplug_builtin.backbones.tfbundle import read_checkpoint

        tensors = read_checkpoint(prefix)
        batch_norms = [self.input_bn, self.f74.bn, self.f77.bn, self.s1.bn, self.s2.bn, self.s3.bn,
                       self.mid1.bn, self.mid2.bn, self.mid3.bn, self.pool_bn, self.dense_bn]
        convs = [self.f74.conv, self.f77.conv, self.s1.conv, self.s2.conv, self.s3.conv,
                 self.mid1.conv, self.mid2.conv, self.mid3.conv]
        state: dict[str, np.ndarray] = {}

        def take(name: str, shape: tuple[int, ...]) -> torch.Tensor:
            if name not in tensors:
                raise ConfigError(f"checkpoint {prefix} has no tensor '{name}'; is it a musicnn checkpoint?")
            value = tensors[name]
            if tuple(value.shape) != shape:
                raise ConfigError(f"checkpoint tensor '{name}' has shape {value.shape}, expected {shape}")
            state[name] = value
            return torch.from_numpy(value)

        with torch.no_grad():
            for i, bn in enumerate(batch_norms):
                name = "batch_normalization" + (f"_{i}" if i else "")
                n = bn.num_features
                bn.weight.copy_(take(f"{name}/gamma", (n,)))
                bn.bias.copy_(take(f"{name}/beta", (n,)))
                bn.running_mean.copy_(take(f"{name}/moving_mean", (n,)))
                bn.running_var.copy_(take(f"{name}/moving_variance", (n,)))
            for i, conv in enumerate(convs):
                name = "conv2d" + (f"_{i}" if i else "")
                out = conv.out_channels
                bias = take(f"{name}/bias", (out,))
                if isinstance(conv, nn.Conv2d):
                    kh, kw = conv.kernel_size
                    kernel = take(f"{name}/kernel", (kh, kw, 1, out))  # TF: (h, w, in, out)
                    conv.weight.copy_(kernel.permute(3, 2, 0, 1))
                else:
                    width = conv.kernel_size[0]
                    kernel = take(f"{name}/kernel", (width, conv.in_channels, 1, out))
                    conv.weight.copy_(kernel[:, :, 0, :].permute(2, 1, 0))
                conv.bias.copy_(bias)
            for linear, name in ((self.dense, "dense"), (self.output, "dense_1")):
                linear.weight.copy_(take(f"{name}/kernel", (linear.in_features, linear.out_features)).T)
                linear.bias.copy_(take(f"{name}/bias", (linear.out_features,)))


class Musicnn(Backbone):
    """Waveform windows ``(batch, 1, time)`` at 16 kHz -> a musicnn layer ``(batch, dim)``.

    A window is cut into 187-frame patches (one per 3 s window); the chosen layer is
    averaged over the patches. A window shorter than one patch is repeat-padded (warned
    once). ``mode=frozen`` keeps the weights fixed (the runner caches the embeddings once);
    ``mode=finetune`` trains them with the head.
    """

    standardize_input = False  # the network has its own input batch norm on the log-mel

    def __init__(self, input_shape: tuple[int, ...], frame_rate: float | None = None, weights: str = "MSD",
                 layer: str = "pool", mode: str = "frozen", head: str = "linear") -> None:
        super().__init__()
        if frame_rate is not None and int(round(frame_rate)) != SAMPLE_RATE:
            raise ConfigError(f"backbone musicnn needs 16 kHz waveforms, got {frame_rate:g} Hz")
        self.layer, self.mode, self.head_kind = layer, mode, head
        self.frozen = mode == "frozen"
        self.embedding_dim = LAYER_DIMS[layer]
        self.mel = LogMel()
        self.net = MusicnnNet()
        self.net.load_tf_checkpoint(checkpoint_prefix(weights))
        if self.frozen:
            self.net.requires_grad_(False)
        self._warned_short = False

    def train(self, mode: bool = True) -> Musicnn:
        """Frozen weights keep the checkpoint's batch-norm statistics even while the head trains."""
        super().train(mode)
        if self.frozen:
            self.net.eval()
        return self

    def patches(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(batch, time)`` -> log-mel patches ``(batch, patches, 187, 96)``."""
        mel = self.mel(waveform)
        frames = mel.shape[1]
        if frames < PATCH_FRAMES:
            if not self._warned_short:
                warnings.warn(f"musicnn: windows of {frames} frames are shorter than a 187-frame (3 s) patch; "
                              "repeat-padding them (use data.clip_seconds=3)", stacklevel=2)
                self._warned_short = True
            mel = mel.repeat(1, -(-PATCH_FRAMES // frames), 1)
            frames = mel.shape[1]
        n_patches = frames // PATCH_FRAMES
        return mel[:, :n_patches * PATCH_FRAMES].reshape(mel.shape[0], n_patches, PATCH_FRAMES, N_MELS)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        waveform = features.reshape(features.shape[0], -1)
        patches = self.patches(waveform)
        batch, n_patches = patches.shape[:2]
        out = self.net(patches.reshape(batch * n_patches, PATCH_FRAMES, N_MELS))[self.layer]
        return out.reshape(batch, n_patches, -1).mean(dim=1)
