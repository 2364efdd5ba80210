"""The published weight files' layouts (tensor names and shapes), and random files in those layouts.

The names and shapes are written out here from the upstream code, not taken from mirplug-pretrained's
own modules, so a port whose names drift from the published files fails to load these:

* ``vggish_orig.pth``, ``yamnet.pth``: the state dicts of torch-vggish-yamnet's ``VGGish`` and
  ``YAMNet`` (the package is the network, so its own modules give the layout);
* ``torchopenl3_<repr>_<content>_<dim>.pth.tar``: torchopenl3 1.0.1 ``PytorchOpenl3`` (models.py);
* ``Cnn14_mAP=0.431.pth``: ``{"model": state dict}`` of audioset_tagging_cnn / panns-inference
  ``Cnn14`` with torchlibrosa front ends.

Front-end tensors (DFT kernels, mel filters) are computed as the upstream code does, with librosa;
learned tensors are random (seeded), scaled so activations neither vanish nor explode.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

REFERENCE_SEED = 7  # weights and waveforms of fixtures/reference.npz


def reference_waveforms(sample_rate: int, seconds: float, batch: int = 2) -> np.ndarray:
    """Seeded chords plus noise, each example 20 dB quieter than the one before (fixtures/reference.npz)."""
    rng = np.random.default_rng(REFERENCE_SEED)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    out = []
    for index in range(batch):
        wave = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(100, 3000, size=3)) / 4
        out.append(10 ** (-index) * (wave + 0.05 * rng.standard_normal(len(t))))
    return np.stack(out).astype(np.float32)


BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _bn(prefix: str, channels: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.{name}": (() if name == "num_batches_tracked" else (channels,)) for name in BN}


def openl3_layout(input_repr: str) -> dict[str, tuple[int, ...]]:
    """torchopenl3's PytorchOpenl3 (the same for 512 and 6144: only the last pooling differs)."""
    n_dft = 512 if input_repr == "linear" else 2048
    layout: dict[str, tuple[int, ...]] = {"speclayer.dft_real_kernels": (n_dft // 2 + 1, 1, n_dft),
                                          "speclayer.dft_imag_kernels": (n_dft // 2 + 1, 1, n_dft)}
    if input_repr != "linear":
        layout["speclayer.mel_basis"] = (int(input_repr[3:]), n_dft // 2 + 1)
    layout.update(_bn("batch_normalization_1", 1))
    channels = 1
    for index, out in enumerate((64, 64, 128, 128, 256, 256, 512), start=1):
        layout[f"conv2d_{index}.weight"] = (out, channels, 3, 3)
        layout[f"conv2d_{index}.bias"] = (out,)
        layout.update(_bn(f"batch_normalization_{index + 1}", out))
        channels = out
    layout["audio_embedding_layer.weight"] = (512, 512, 3, 3)
    layout["audio_embedding_layer.bias"] = (512,)
    return layout


def cnn14_layout() -> dict[str, tuple[int, ...]]:
    """audioset_tagging_cnn's Cnn14(sample_rate=32000, window_size=1024, hop_size=320, mel_bins=64, ...)."""
    layout: dict[str, tuple[int, ...]] = {"spectrogram_extractor.stft.conv_real.weight": (513, 1, 1024),
                                          "spectrogram_extractor.stft.conv_imag.weight": (513, 1, 1024),
                                          "logmel_extractor.melW": (513, 64)}
    layout.update(_bn("bn0", 64))
    channels = 1
    for index, out in enumerate((64, 128, 256, 512, 1024, 2048), start=1):
        layout[f"conv_block{index}.conv1.weight"] = (out, channels, 3, 3)
        layout[f"conv_block{index}.conv2.weight"] = (out, out, 3, 3)
        layout.update(_bn(f"conv_block{index}.bn1", out))
        layout.update(_bn(f"conv_block{index}.bn2", out))
        channels = out
    layout.update({"fc1.weight": (2048, 2048), "fc1.bias": (2048,), "fc_audioset.weight": (527, 2048),
                   "fc_audioset.bias": (527,)})
    return layout


def torch_vggish_yamnet_layout(model: str) -> dict[str, tuple[int, ...]]:
    """The package's own network (it is the network the published files were made for)."""
    if model == "vggish":
        from torch_vggish_yamnet.vggish.model import VGGish as Net
    else:
        from torch_vggish_yamnet.yamnet.model import YAMNet as Net
    return {name: tuple(tensor.shape) for name, tensor in Net().state_dict().items()}


def kapre_front_end(input_repr: str) -> dict[str, np.ndarray]:
    """torchopenl3's CustomSTFT / CustomMelSTFT buffers, computed as its models.py does (librosa)."""
    import librosa

    n_dft = 512 if input_repr == "linear" else 2048
    timesteps = np.arange(n_dft)
    w_ks = np.arange(n_dft // 2 + 1) * 2 * np.pi / float(n_dft)
    window = librosa.filters.get_window("hann", n_dft, fftbins=True).astype(np.float32)
    real = np.cos(w_ks[:, None] * timesteps[None, :]) * window
    imaginary = -np.sin(w_ks[:, None] * timesteps[None, :]) * window
    tensors = {"speclayer.dft_real_kernels": real[:, None, :].astype(np.float32),
               "speclayer.dft_imag_kernels": imaginary[:, None, :].astype(np.float32)}
    if input_repr != "linear":
        tensors["speclayer.mel_basis"] = librosa.filters.mel(sr=48000, n_fft=n_dft, n_mels=int(input_repr[3:]),
                                                             fmin=0, fmax=24000, htk=True, norm=1).astype(np.float32)
    return tensors


def torchlibrosa_front_end() -> dict[str, np.ndarray]:
    """torchlibrosa's STFT kernels and LogmelFilterBank.melW for Cnn14, computed as torchlibrosa does."""
    import librosa

    window = librosa.filters.get_window("hann", 1024, fftbins=True)
    dft = np.exp(-2j * np.pi * np.outer(np.arange(1024), np.arange(1024)) / 1024)[:, :513] * window[:, None]
    return {"spectrogram_extractor.stft.conv_real.weight": np.real(dft).T[:, None, :].astype(np.float32),
            "spectrogram_extractor.stft.conv_imag.weight": np.imag(dft).T[:, None, :].astype(np.float32),
            "logmel_extractor.melW": librosa.filters.mel(sr=32000, n_fft=1024, n_mels=64, fmin=50,
                                                         fmax=14000).T.astype(np.float32)}


def random_state(layout: dict[str, tuple[int, ...]], seed: int, fixed: dict[str, np.ndarray] | None = None,
                 ) -> dict[str, torch.Tensor]:
    """Seeded tensors in ``layout`` (sorted by name); ``fixed`` tensors are used as given."""
    rng = np.random.default_rng(seed)
    state: dict[str, torch.Tensor] = {}
    for name in sorted(layout):
        shape = layout[name]
        if fixed and name in fixed:
            assert fixed[name].shape == shape, (name, fixed[name].shape, shape)
            state[name] = torch.from_numpy(np.ascontiguousarray(fixed[name]))
        elif name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(0, dtype=torch.int64)
        elif name.endswith("running_var"):
            state[name] = torch.from_numpy(rng.uniform(0.5, 1.5, shape).astype(np.float32))
        elif name.endswith(("running_mean", ".bias")) or len(shape) == 1:
            if name.endswith(".weight"):  # batch-norm scale
                state[name] = torch.from_numpy(rng.uniform(0.8, 1.2, shape).astype(np.float32))
            else:
                state[name] = torch.from_numpy((0.1 * rng.standard_normal(shape)).astype(np.float32))
        else:
            fan_in = int(np.prod(shape[1:]))
            scale = np.sqrt(2.0 / max(fan_in, 1))
            state[name] = torch.from_numpy((scale * rng.standard_normal(shape, dtype=np.float32)))
    return state


def write_published_files(checkpoints: Path, seed: int = 0) -> dict[str, Path]:
    """Random weights, in the published layouts and under the published file names, in ``checkpoints``.

    Written: vggish_orig.pth, yamnet.pth, the torchopenl3 mel128 music files (512 and 6144, which hold
    the same tensors) and Cnn14_mAP=0.431.pth. Files already there are kept.
    """
    checkpoints.mkdir(parents=True, exist_ok=True)
    files = {
        "vggish_orig.pth": lambda: random_state(torch_vggish_yamnet_layout("vggish"), seed),
        "yamnet.pth": lambda: random_state(torch_vggish_yamnet_layout("yamnet"), seed + 1),
        "torchopenl3_mel128_music_512.pth.tar": lambda: random_state(openl3_layout("mel128"), seed + 2,
                                                                     kapre_front_end("mel128")),
        "torchopenl3_mel128_music_6144.pth.tar": lambda: random_state(openl3_layout("mel128"), seed + 2,
                                                                      kapre_front_end("mel128")),
        "Cnn14_mAP=0.431.pth": lambda: {"model": random_state(cnn14_layout(), seed + 3, torchlibrosa_front_end()),
                                        "iteration": 660000},
    }
    written = {}
    for name, make in files.items():
        path = checkpoints / name
        if not path.exists():
            torch.save(make(), path)
        written[name] = path
    return written
