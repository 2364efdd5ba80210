"""What the built-in generators ``vae`` and ``gan`` share: the log-mel front end, its
inversion back to audio, the conditional conv networks and the guarded training loop.

The models work on whole training windows as log-mel images ``(n_mels, frames)`` with
fixed settings (64 mels, 1024-point FFT, hop 256), scaled to ``[-1, 1]`` from an 80 dB
range below the loudest bin of the training set. Frames are padded to a multiple of 16
so four stride-2 stages divide them. Generated images go back to audio with
torchaudio's ``InverseMelScale`` (least squares) and ``GriffinLim`` (through
:mod:`mirplug_builtin.torchaudio_ops`), so a synthetic row is an ordinary waveform at the
fitted sample rate and the training clip length.
"""

from __future__ import annotations

import abc
import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from mirplug import ConfigError, DataError, Generator

# Fixed feature settings: part of a checkpoint's identity, compared on load.
MEL_SETTINGS: dict[str, Any] = {
    "kind": "log-mel",
    "n_mels": 64,
    "n_fft": 1024,
    "hop_length": 256,
    "f_min": 0.0,
    "power": 2.0,
    "top_db": 80.0,
    "scale": "[-1, 1] from top_db below the training maximum",
    "griffin_lim_iters": 32,
}
DOWNSAMPLING = 16  # four stride-2 stages
CHANNELS = (8, 16, 32, 64)
INVERSION_BATCH = 16  # clips inverted at once; bounds memory of the least-squares solve
PEAK = 0.99  # the largest absolute sample of a synthetic clip
GENERATION_BATCH = 64  # images generated at once


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one intra-op thread, restoring the previous setting afterwards.

    These models are small convolutions that do not gain from threads: on the shared 2-core
    machine 100 VAE steps took 14.6 s on one thread and 63 s on two (threads spinning
    against other processes), so fitting and sampling always use one.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class MelFrontEnd:
    """Waveforms <-> log-mel images scaled to ``[-1, 1]``.

    ``low_db``/``high_db`` come from the training set (see :meth:`fit_range`) and are
    saved with the weights, so a loaded generator inverts exactly as the fitted one did.
    """

    def __init__(self, sample_rate: int, clip_samples: int) -> None:
        from mirplug_builtin.torchaudio_ops import mel_spectrogram

        self.sample_rate, self.clip_samples = sample_rate, clip_samples
        s = MEL_SETTINGS
        self.mel = mel_spectrogram(sample_rate, s["n_fft"], s["hop_length"], s["n_mels"], f_min=s["f_min"],
                                   power=s["power"])
        self.frames = clip_samples // s["hop_length"] + 1  # centred STFT
        self.padded_frames = math.ceil(self.frames / DOWNSAMPLING) * DOWNSAMPLING
        self.low_db, self.high_db = -80.0, 0.0

    def log_mel(self, waves: torch.Tensor) -> torch.Tensor:
        """``(n, time)`` -> power mel in dB ``(n, n_mels, frames)``."""
        with torch.no_grad():
            return 10.0 * torch.log10(self.mel(waves).clamp_min(1e-10))

    def fit_range(self, db: torch.Tensor) -> None:
        """Set the dB range from training images: ``top_db`` below their maximum."""
        self.high_db = float(db.max())
        self.low_db = self.high_db - float(MEL_SETTINGS["top_db"])

    def scale(self, db: torch.Tensor) -> torch.Tensor:
        """Log-mel in dB ``(n, n_mels, frames)`` -> images ``(n, 1, n_mels, padded_frames)`` in ``[-1, 1]``
        (padding is silence)."""
        scaled = ((db - self.low_db) / (self.high_db - self.low_db)).clamp(0.0, 1.0) * 2.0 - 1.0
        padded = torch.full((scaled.shape[0], 1, scaled.shape[1], self.padded_frames), -1.0)
        padded[:, 0, :, : self.frames] = scaled
        return padded

    def to_db(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``(n, 1, n_mels, padded_frames)`` -> dB ``(n, n_mels, frames)``."""
        scaled = (images[:, 0, :, : self.frames].clamp(-1.0, 1.0) + 1.0) / 2.0
        return scaled * (self.high_db - self.low_db) + self.low_db

    def decode(self, images: torch.Tensor) -> torch.Tensor:
        """Images -> waveforms ``(n, clip_samples)`` via InverseMelScale and Griffin-Lim.

        Griffin-Lim's random phase start draws from torch's global generator, so callers
        seed it (see :meth:`MelGenerator.sample_model`).
        """
        from mirplug_builtin.torchaudio_ops import griffin_lim, inverse_mel_scale

        s = MEL_SETTINGS
        inverse_mel = inverse_mel_scale(s["n_fft"] // 2 + 1, s["n_mels"], self.sample_rate, f_min=s["f_min"])
        to_waveform = griffin_lim(s["n_fft"], s["hop_length"], s["power"], s["griffin_lim_iters"])
        power = 10.0 ** (self.to_db(images) / 10.0)
        out = []
        with torch.no_grad():
            for start in range(0, power.shape[0], INVERSION_BATCH):
                linear = inverse_mel(power[start:start + INVERSION_BATCH]).clamp_min(0.0)
                waves = to_waveform(linear)
                # Griffin-Lim may return a few samples short; pad/crop to the training length.
                waves = nn.functional.pad(waves, (0, max(0, self.clip_samples - waves.shape[-1])))
                out.append(waves[:, : self.clip_samples])
        waves = torch.cat(out)
        # Scale down (never up) a clip whose peak would clip: hard clamping would distort it.
        peak = waves.abs().amax(dim=1, keepdim=True).clamp_min(1e-12)
        return waves * (PEAK / peak).clamp(max=1.0)


class ConditionalDecoder(nn.Module):
    """``(latent, label)`` -> image ``(n, 1, n_mels, padded_frames)`` in ``[-1, 1]``.

    Four stages of nearest-neighbour upsampling and a 3x3 convolution (no checkerboard
    artefacts, unlike transposed convolutions), narrowing towards full resolution so a
    step stays cheap on a CPU. ``batch_norm`` normalises each stage (the GAN generator
    needs it to keep up with its critic; the VAE does without).
    """

    def __init__(self, latent_dim: int, n_classes: int, n_mels: int, padded_frames: int,
                 batch_norm: bool = False) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.start = (CHANNELS[-1], n_mels // DOWNSAMPLING, padded_frames // DOWNSAMPLING)
        self.project = nn.Linear(latent_dim + n_classes, math.prod(self.start))
        layers: list[nn.Module] = []
        widths = tuple(reversed(CHANNELS))
        for c_in, c_out in zip(widths, (*widths[1:], widths[-1])):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1)]
            layers += [nn.BatchNorm2d(c_out)] if batch_norm else []
            layers += [nn.LeakyReLU(0.2)]
        layers += [nn.Conv2d(widths[-1], 1, 3, padding=1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, latent: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        onehot = nn.functional.one_hot(labels, self.n_classes).float()
        hidden = nn.functional.leaky_relu(self.project(torch.cat([latent, onehot], dim=1)), 0.2)
        return self.body(hidden.view(-1, *self.start))


class ConvEncoder(nn.Module):
    """Image ``(n, 1, n_mels, padded_frames)`` -> flat features, four stride-2 conv stages, no normalisation
    (the WGAN-GP critic must not mix examples in a batch)."""

    def __init__(self, n_mels: int, padded_frames: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for c_out in CHANNELS:
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.out_dim = CHANNELS[-1] * (n_mels // DOWNSAMPLING) * (padded_frames // DOWNSAMPLING)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)


class MelGenerator(Generator):
    """A generator over log-mel images with a guarded training loop.

    Subclasses build their networks in :meth:`_build`, take one optimisation step in
    :meth:`_train_step` (returning the named losses) and produce images in :meth:`_generate`.
    The loop snapshots the weights after every finite step; a NaN/inf loss or weight
    restores the last good snapshot and stops with the step number.
    """

    monitored_loss: str = "loss"  # the loss whose history shows learning, for summaries and tests
    # Per-model defaults, the same as the registered options in mirplug_builtin.augmenters.
    default_steps: int = 1000
    default_latent_dim: int = 32
    default_lr: float = 1e-3

    def __init__(self, per_class: int = 0, balance: bool = False, steps: int | None = None,
                 latent_dim: int | None = None, lr: float | None = None, batch_size: int = 16, checkpoint: str = "",
                 min_clips_per_class: int = 4, filter_confidence: float = 0.0, cache: bool = True) -> None:
        steps = self.default_steps if steps is None else steps
        latent_dim = self.default_latent_dim if latent_dim is None else latent_dim
        lr = self.default_lr if lr is None else lr
        for name, value, low in (("per_class", per_class, 0), ("steps", steps, 1), ("latent_dim", latent_dim, 1),
                                 ("batch_size", batch_size, 1), ("min_clips_per_class", min_clips_per_class, 1)):
            if int(value) < low:
                raise ConfigError(f"augmenter {self.architecture}: {name}={value} must be at least {low}")
        if not lr > 0 or not math.isfinite(lr):
            raise ConfigError(f"augmenter {self.architecture}: lr={lr} must be a positive number")
        if not 0.0 <= filter_confidence <= 1.0:
            raise ConfigError(f"augmenter {self.architecture}: filter_confidence={filter_confidence} "
                              f"must lie in [0, 1]")
        super().__init__(per_class=int(per_class), balance=bool(balance), steps=int(steps),
                         latent_dim=int(latent_dim), lr=float(lr), batch_size=int(batch_size),
                         checkpoint=str(checkpoint or ""), min_clips_per_class=int(min_clips_per_class),
                         filter_confidence=float(filter_confidence), cache=bool(cache))
        self.front: MelFrontEnd | None = None
        self.networks: dict[str, nn.Module] = {}

    def representation(self) -> dict[str, Any]:
        return dict(MEL_SETTINGS)

    # -- what subclasses provide -------------------------------------------------------
    @abc.abstractmethod
    def _build(self, n_classes: int, n_mels: int, padded_frames: int) -> None:
        """Create :attr:`networks` (and optimisers when training)."""

    @abc.abstractmethod
    def _train_step(self, images: torch.Tensor, labels: torch.Tensor, rng: torch.Generator) -> dict[str, torch.Tensor]:
        """One optimisation step on a batch; returns the named losses (the last one monitored)."""

    @abc.abstractmethod
    def _generate(self, labels: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Images ``(n, 1, n_mels, padded_frames)`` for ``labels``."""

    # -- shared machinery ----------------------------------------------------------------
    def log_mel(self, waves: torch.Tensor) -> torch.Tensor:
        """Log-mel in dB ``(n, n_mels, frames)`` with this generator's settings (for plots and reports)."""
        self._require_fitted("log_mel")
        assert self.front is not None
        return self.front.log_mel(torch.as_tensor(waves, dtype=torch.float32))

    def fit_model(self, waves: torch.Tensor, labels: torch.Tensor, seed: int, progress: Any,
                  save_folder: Any) -> dict[str, Any]:
        with single_thread():
            return self._fit_guarded(waves, labels, seed, progress, save_folder)

    def _fit_guarded(self, waves: torch.Tensor, labels: torch.Tensor, seed: int, progress: Any,
                     save_folder: Any) -> dict[str, Any]:
        if self.clip_samples < MEL_SETTINGS["n_fft"]:
            raise DataError(f"generator {self.architecture}: training clips of {self.clip_samples} samples are "
                            f"shorter than the {MEL_SETTINGS['n_fft']}-sample FFT; use longer windows")
        torch.manual_seed(seed)  # network initialisation
        rng = torch.Generator().manual_seed(seed)
        self.front = MelFrontEnd(self.sample_rate, self.clip_samples)
        db = self.front.log_mel(waves)
        self.front.fit_range(db)
        images = self.front.scale(db)
        self._build(len(self.label_names), MEL_SETTINGS["n_mels"], self.front.padded_frames)
        steps, batch_size = self.options["steps"], min(self.options["batch_size"], images.shape[0])
        history: dict[str, list[float]] = {}
        # ``good`` holds the weights that last gave a finite loss: the initial ones at first,
        # then the weights each step evaluated before its update.
        good = self._snapshot()
        for step in range(1, steps + 1):
            for net in self.networks.values():
                net.train()
            evaluated = self._snapshot()
            batch = torch.randperm(images.shape[0], generator=rng)[:batch_size]
            losses = {name: float(value) for name, value in
                      self._train_step(images[batch], labels[batch], rng).items()}
            if not all(math.isfinite(v) for v in losses.values()):
                self._load_snapshot(good)
                for net in self.networks.values():
                    net.eval()
                kept = max(step - 1, 0)
                self.summary = self._summary(kept, history, stopped=f"non-finite loss at step {step}")
                if kept == 0:
                    where = "; no step had a finite loss, so the initial weights are kept and nothing was saved"
                elif save_folder is not None:
                    self.save(save_folder)
                    where = f"; the last good weights (evaluated at step {kept}) were saved to {save_folder}"
                else:
                    where = f"; the last good weights (evaluated at step {kept}) are kept"
                raise DataError(
                    f"generator {self.architecture}: training diverged (NaN/inf loss) at step {step} of {steps}; "
                    f"lower augmenter.lr (now {self.options['lr']:g}){where}")
            good = evaluated
            for name, value in losses.items():
                history.setdefault(name, []).append(value)
            if progress is not None:
                progress(step, steps, losses)
        for net in self.networks.values():
            net.eval()
        return self._summary(steps, history)

    def _summary(self, steps_done: int, history: dict[str, list[float]], stopped: str = "") -> dict[str, Any]:
        summary: dict[str, Any] = {
            "steps": steps_done,
            "monitored_loss": self.monitored_loss,
            "final_losses": {name: values[-1] for name, values in history.items() if values},
            "history": history,
        }
        if stopped:
            summary["stopped"] = stopped
        return summary

    def _snapshot(self) -> dict[str, dict[str, torch.Tensor]]:
        return {name: {k: v.detach().clone() for k, v in net.state_dict().items()}
                for name, net in self.networks.items()}

    def _load_snapshot(self, snapshot: dict[str, dict[str, torch.Tensor]]) -> None:
        for name, net in self.networks.items():
            net.load_state_dict(snapshot[name])

    def sample_model(self, labels: torch.Tensor, seed: int) -> torch.Tensor:
        assert self.front is not None
        rng = torch.Generator().manual_seed(seed)
        for net in self.networks.values():
            net.eval()
        # Griffin-Lim's random phase start uses the global generator: seed it without leaking.
        with torch.random.fork_rng(devices=[]), single_thread(), torch.no_grad():
            torch.manual_seed(seed)
            # Chunks bound memory; one generator across them keeps the draw seeded.
            images = torch.cat([self._generate(chunk, rng) for chunk in labels.split(GENERATION_BATCH)])
            return self.front.decode(images)

    def model_state(self) -> dict[str, torch.Tensor]:
        assert self.front is not None
        state = {f"{name}.{key}": value for name, net in self.networks.items()
                 for key, value in net.state_dict().items()}
        state["front.db_range"] = torch.tensor([self.front.low_db, self.front.high_db], dtype=torch.float64)
        return state

    def restore_model(self, state: dict[str, torch.Tensor], config: dict[str, Any]) -> None:
        self.front = MelFrontEnd(self.sample_rate, self.clip_samples)
        self.front.low_db, self.front.high_db = (float(v) for v in state["front.db_range"])
        self._build(len(self.label_names), MEL_SETTINGS["n_mels"], self.front.padded_frames)
        for name, net in self.networks.items():
            prefix = f"{name}."
            net.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
            net.eval()
