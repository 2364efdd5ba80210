"""Base classes of the component kinds (imported lazily: this module imports torch).

Shapes follow torchaudio's docstring convention: ``(batch, time)`` for waveforms,
``(batch, channels, frames)`` for time-frequency features, ``(batch, dim)`` for
clip-level vectors.

Internal module: plugin authors import the base classes from :mod:`mirplug`, which is the stable
API; everything else here may change in any release.
"""

from __future__ import annotations

import abc
import hashlib
import importlib
import json
import os
import shutil
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mirplug.errors import ConfigError, DataError


class Representation(nn.Module):
    """Waveform ``(batch, time)`` at :attr:`sample_rate` -> features.

    Features are ``(batch, channels, frames)`` with :attr:`frame_rate` frames per second,
    or a clip-level ``(batch, dim)`` with ``frame_rate = None``. Subclasses hold no
    trainable parameters, so a representation is rebuilt from its options alone.

    The contract (checked by ``mirplug validate``): float32 output, finite (also on silence),
    deterministic, and a batch equal to its items computed one by one. The core reads these
    attributes, so set them in ``__init__`` when they depend on the options:

    * :attr:`sample_rate` (int, Hz): clips are decoded and resampled to it;
    * :attr:`frame_rate` (float or ``None``): frames per second of the output, ``None`` for one
      vector per clip (a backbone declaring ``expects="frames"`` then refuses it);
    * :attr:`frame_samples` (int): the shortest input, in samples, the representation can analyse
      (e.g. its FFT size); shorter clips are skipped with a note instead of failing;
    * :attr:`thread_safe` (bool): ``forward`` may run in several threads at once;
    * :attr:`revision` (int): raise it when a fix changes the values computed from the same options.
    """

    sample_rate: int = 16000
    frame_rate: float | None = None
    # The shortest clip, in samples, the representation can analyse (e.g. its FFT size): shorter
    # clips are skipped when decoding instead of crashing the representation.
    frame_samples: int = 1
    # True when ``forward`` may run in several threads at once (pure torch, no mutable state):
    # clips are then featurized in the threads that decode them (mirplug.windows.decode_cells).
    # A representation wrapping a native library whose objects keep state leaves it False.
    thread_safe: bool = False
    # Raised when a fix changes the values computed from the same options: features cached
    # by an earlier revision are then recomputed.
    revision: int = 0


class RawWaveform(Representation):
    """The core's own input for a backbone that brings its own front end (``expects="waveform"``).

    ``(batch, time)`` -> ``(batch, 1, time)``; the frame rate is the sample rate. Internal: a
    plugin does not need it (the core builds it at the backbone's rate).
    """

    thread_safe = True  # pure torch; forward changes no state

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
        self.sample_rate = int(sample_rate)
        self.frame_rate = float(sample_rate)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return waveform.unsqueeze(1)


class Backbone(nn.Module):
    """Features (one example: :attr:`input_shape`) -> embeddings.

    ``forward`` returns clip embeddings ``(batch, embedding_dim)``. A backbone that can
    also give frame embeddings sets :attr:`frame_rate` and implements :meth:`frames`,
    returning ``(batch, frames, embedding_dim)``.

    The factory is called with the options plus ``input_shape`` (one example's features) and
    ``frame_rate``. The core reads these attributes:

    * :attr:`embedding_dim` (int, required): the size of a clip embedding;
    * :attr:`frame_rate`: frame embeddings per second, or ``None`` for clip embeddings only;
    * :attr:`frozen` (bool): the weights never change; the embeddings are then computed once (and
      cached) and only the head trains, and ``eval.fad_backbone=auto`` may use them to measure
      the realism of generated clips;
    * :attr:`standardize_input` (bool): whether the core standardizes the features first (a
      pretrained network with its own input normalisation sets it False);
    * :attr:`head_kind`: the head put on top (``"linear"``, ``"mlp"`` or ``"centroid"``).

    A backbone whose spec says ``expects="waveform"`` and ``sample_rate=None`` (the rate depends
    on its options, e.g. on the model it loads) overrides :meth:`input_sample_rate`.
    """

    embedding_dim: int
    frame_rate: float | None = None
    # A backbone with its own input normalisation (e.g. a pretrained network) sets this False,
    # and the runner leaves its inputs unstandardized.
    standardize_input: bool = True
    # A frozen backbone's embeddings are computed once and only the head trains.
    frozen: bool = False
    # The head on top: "linear" (the task's own), "mlp", or "centroid" (nearest class centroid).
    head_kind: str = "linear"

    @classmethod
    def input_sample_rate(cls, options: Mapping[str, Any]) -> int | None:
        """The sample rate (Hz) of the waveform this backbone takes with ``options``, when its spec has none.

        Called on the factory class before the backbone is built (so audio is decoded at the right
        rate once). ``None`` (the default) leaves the spec's ``sample_rate``, else the representation's.
        """
        return None

    def parts(self) -> list[tuple[str, dict[str, Any], nn.Module]]:
        """``(name, options, module)`` of each part of a frozen backbone that concatenates others (a fusion).

        ``forward`` must equal the parts' outputs (each ``(batch, dim)`` from the same input) concatenated in
        this order. The frozen-embedding cache then keys and stores each part on its own, as the backbone
        ``name`` with ``options`` would be, so a part is computed once for every run that uses it.
        Default: no parts (the backbone is cached as one).
        """
        return []

    def frames(self, features: torch.Tensor) -> torch.Tensor:
        """Frame embeddings ``(batch, frames, embedding_dim)``; clip-only backbones raise."""
        raise ConfigError(f"backbone {type(self).__name__} gives clip embeddings only, not frames")

    def timestamps(self, n_frames: int) -> torch.Tensor:
        """Centre time in seconds of each of ``n_frames`` frame embeddings."""
        if self.frame_rate is None:
            raise ValueError(f"{type(self).__name__} has no frame rate")
        return (torch.arange(n_frames, dtype=torch.float32) + 0.5) / self.frame_rate


class Transform(abc.ABC):
    """A seeded augmentation applied to one example with probability :attr:`p`.

    Subclasses implement :meth:`sample_parameters` (draw from ``rng``) and :meth:`apply`
    (deterministic given the parameters), so every application is reproducible from the
    recorded parameters. ``stage`` is ``"waveform"`` (input ``(time,)``) or
    ``"features"`` (input ``(channels, frames)``) and must equal the spec's ``stage``.
    The contract: the same seed gives the same parameters and output, ``apply`` with the
    recorded parameters reproduces it, the input is not modified in place, shape and dtype
    are kept, a waveform's peak rises by at most 20 dB, the parameters are JSON.
    """

    stage: str = "waveform"
    sample_rate: int | None = None  # of the waveforms it is given; set by :meth:`prepare`

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"augmenter {type(self).__name__}: p={p} must lie in [0, 1]")
        self.p = p

    def prepare(self, sample_rate: int) -> None:
        """Called before use with the sample rate of the waveforms (and of the features' audio).

        A transform whose work depends on it (filters in Hz, pitch shifts, impulse responses
        read from files) builds what it needs here; the default only records it.
        """
        self.sample_rate = int(sample_rate)

    @abc.abstractmethod
    def sample_parameters(self, example: torch.Tensor, rng: np.random.Generator) -> dict[str, Any]:
        """Draw this application's parameters."""

    @abc.abstractmethod
    def apply(self, example: torch.Tensor, params: dict[str, Any]) -> torch.Tensor:
        """Apply with the given parameters; the same parameters give the same output."""

    def __call__(self, example: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, dict[str, Any] | None]:
        """Apply with probability ``p``; returns the output and the parameters (``None``: skipped)."""
        if rng.random() >= self.p:
            return example, None
        params = self.sample_parameters(example, rng)
        return self.apply(example, params), params

    def describe(self, params: dict[str, Any]) -> str:
        """The parameters as JSON, for provenance records."""
        return json.dumps(params, sort_keys=True)


class Task(abc.ABC):
    """What a task predicts and how it is scored.

    A task turns dataset rows into targets, gives the head and the loss, turns outputs
    into predictions and computes metrics and plots. The core reads these attributes:

    * :attr:`label_kind`: ``"single-label"``, ``"multi-label"``, ``"regression"`` or ``"frame-events"``;
      generator augmenters and ``mirplug augment`` need a single-label task;
    * :attr:`main_metric`: the key of :meth:`metrics` that early stopping and summaries use;
    * :attr:`label_column`: the dataset column holding the label (single-label tasks: integer
      class indices), used to stratify splits, to subsample per class and to fit generators;
    * :attr:`frame_level`: ``True`` when the task predicts per frame (it then implements
      :meth:`window_targets` and :meth:`aggregate`, and needs a backbone with frame embeddings);
    * :attr:`stratify`: split stratified by :attr:`label_column`.
    """

    label_kind: str = "single-label"
    main_metric: str = "macro_f1"
    label_column: str | None = None
    frame_level: bool = False
    stratify: bool = True  # single-label tasks split stratified by label when True

    @abc.abstractmethod
    def label_names(self, dataset: Any) -> list[str]:
        """The output names (class names, tags or targets) from the dataset's features."""

    @abc.abstractmethod
    def targets(self, rows: Any) -> torch.Tensor:
        """Targets for a batch of dataset rows."""

    @abc.abstractmethod
    def build_head(self, embedding_dim: int, n_outputs: int) -> nn.Module:
        """The trainable head on top of the clip embedding."""

    @abc.abstractmethod
    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The training loss."""

    @abc.abstractmethod
    def probabilities(self, outputs: torch.Tensor) -> torch.Tensor:
        """Head outputs -> probabilities (or values, for regression)."""

    @abc.abstractmethod
    def metrics(self, targets: np.ndarray, probabilities: np.ndarray, names: Sequence[str]) -> dict[str, Any]:
        """Metrics of ``probabilities`` against ``targets``; must include :attr:`main_metric`."""

    def plots(self, folder: Any, targets: np.ndarray, probabilities: np.ndarray, names: Sequence[str]) -> list[str]:
        """Write plots into ``folder``; return the file names."""
        return []

    def mix_targets(self, targets: torch.Tensor, partner: torch.Tensor, weight: float, n_outputs: int) -> torch.Tensor:
        """The targets of mixed examples (mixup, ``train.mixup_alpha``): ``weight`` of ``targets`` and
        ``1 - weight`` of ``partner``'s; :meth:`loss` receives what this returns.

        Single-label: class probabilities ``(batch, n_outputs)`` (a cross-entropy with probabilities);
        multi-label: mixed multi-hot vectors. Other label kinds refuse mixup unless a task overrides this.
        """
        if self.label_kind == "single-label":
            first = nn.functional.one_hot(targets.long(), n_outputs).float()
            second = nn.functional.one_hot(partner.long(), n_outputs).float()
        elif self.label_kind == "multi-label":
            first, second = targets.float(), partner.float()
        else:
            raise ConfigError(f"task {type(self).__name__} has {self.label_kind} targets; mixup "
                              f"(train.mixup_alpha) takes single-label or multi-label tasks")
        return weight * first + (1.0 - weight) * second

    def window_targets(self, rows: Any, windows: Any, frame_rate: float | None, n_frames: int | None) -> torch.Tensor:
        """Training targets per window (``windows`` is a :class:`mirplug.windows.Windows`).

        Clip-level tasks repeat each clip's target; frame-level tasks build per-frame targets.
        """
        return self.targets(rows)[windows.clip]

    def clip_targets(self, rows: Any) -> Any:
        """The references that :meth:`metrics` scores against, one per clip."""
        return self.targets(rows).numpy()

    def aggregate(self, outputs: torch.Tensor, windows: Any, n_clips: int, frame_rate: float | None) -> Any:
        """Window outputs -> one prediction per clip: the mean of the window probabilities."""
        probabilities = self.probabilities(outputs)
        summed = torch.zeros((n_clips, *probabilities.shape[1:]))
        summed.index_add_(0, windows.clip, probabilities)
        counts = torch.bincount(windows.clip, minlength=n_clips).clamp_min(1)
        return (summed / counts.reshape(-1, *([1] * (probabilities.dim() - 1)))).numpy()

    def format_target(self, target: np.ndarray, names: Sequence[str]) -> str:
        """A target as text for ``predictions.csv``."""
        return json.dumps(np.asarray(target).tolist())

    @abc.abstractmethod
    def prediction_rows(self, probabilities: np.ndarray, names: Sequence[str]) -> list[dict[str, Any]]:
        """One dict per example for ``predictions.csv`` and ``mirplug predict``."""


SAMPLING_OPTIONS = ("per_class", "balance", "filter_confidence")

# the underscore names a generator overrode before plugin API 1.0 -> their public names
_RENAMED_METHODS = {"_fit": "fit_model", "_sample": "sample_model", "_state": "model_state",
                    "_restore": "restore_model"}


class Generator(abc.ABC):
    """A class-conditional generative augmenter: fitted on training clips, then sampled.

    Lifecycle: :meth:`fit` on the training split's waveforms ``(n, time)`` and labels
    ``(n,)``; :meth:`sample` new labelled waveforms (seeded: the same seed gives the same
    clips); :meth:`save` writes ``generator.safetensors`` (weights) and ``generator.json``
    (config, training summary and the weights' sha256) into a folder; :meth:`load`
    rebuilds a fitted generator and refuses a checkpoint made for other labels or other
    audio/feature settings. The base class does the checking, seeding bookkeeping, saving and
    caching; a subclass provides the model:

    * :meth:`fit_model` (train; return the training summary), :meth:`sample_model` (waveforms for
      given labels, seeded), :meth:`model_state` and :meth:`restore_model` (every tensor needed to
      sample, and back), :meth:`representation` (the fixed feature settings its checkpoint is
      only valid for);
    * optionally :meth:`log_mel`, the log-mel spectrogram quality reports, spectrogram grids and
      the confidence filter are computed on (the default is a 64-band log-mel at the generator's
      sample rate; a generator that works in a mel space of its own returns that).

    The factory is called with the spec's options. The core reads these of them when declared:
    ``per_class`` and ``balance`` (how many clips :meth:`plan_counts` asks for; a run refuses a
    generator with ``per_class=0`` and ``balance=false``), ``filter_confidence`` (keep only
    samples a classifier trained on real clips recognises), ``checkpoint`` (load instead of
    fitting), ``cache`` (``false`` refits instead of reusing the cached fit) and
    ``min_clips_per_class`` (fewer training clips in a class is an error). The training summary
    may hold ``steps``, ``monitored_loss``, ``final_losses`` and ``stopped`` (copied into the run's
    ``metrics.json``); anything else stays in ``quality.json``. Give the spec ``quick_options``
    (e.g. a few training steps) so ``mirplug validate`` fits it in seconds.

    Before plugin API 1.0 the four model methods were called ``_fit``, ``_sample``, ``_state`` and
    ``_restore``: a subclass that still overrides those works unchanged and gets a
    ``DeprecationWarning`` when it is defined.
    """

    architecture: str = ""
    WEIGHTS_FILE = "generator.safetensors"
    CONFIG_FILE = "generator.json"
    # keys of the training summary that metrics.json keeps (the rest stays in quality.json)
    SUMMARY_RESULTS: tuple[str, ...] = ("steps", "monitored_loss", "final_losses", "stopped")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _alias_renamed_methods(cls, _RENAMED_METHODS)

    def __init__(self, **options: Any) -> None:
        self.options: dict[str, Any] = dict(options)
        self.label_names: list[str] = []
        self.sample_rate: int = 0
        self.clip_samples: int = 0
        self.summary: dict[str, Any] = {}
        self._checkpoint_hash: str | None = None

    # -- what subclasses provide -------------------------------------------------------
    @abc.abstractmethod
    def representation(self) -> dict[str, Any]:
        """The fixed feature settings the model works in (e.g. mel bins, FFT, hop)."""

    @abc.abstractmethod
    def fit_model(self, waves: torch.Tensor, labels: torch.Tensor, seed: int, progress: Any,
                  save_folder: Any) -> dict[str, Any]:
        """Train on checked inputs and return the training summary.

        ``waves`` ``(n, clip_samples)`` float32 at :attr:`sample_rate`, ``labels`` ``(n,)`` class
        indices into :attr:`label_names` (both already checked by :meth:`fit`). Seed every random
        draw from ``seed``. ``progress(step, steps, losses)``, when not ``None``, may be called after
        each step. ``save_folder``, when not ``None``, is where to save the last good weights (with
        :meth:`save`) before raising on divergence.
        """

    @abc.abstractmethod
    def sample_model(self, labels: torch.Tensor, seed: int) -> torch.Tensor:
        """Waveforms ``(n, clip_samples)`` float32 for the given ``labels`` ``(n,)``; the same seed gives the same."""

    @abc.abstractmethod
    def model_state(self) -> dict[str, torch.Tensor]:
        """Every tensor needed to sample (weights and normalisation statistics), for ``generator.safetensors``."""

    @abc.abstractmethod
    def restore_model(self, state: dict[str, torch.Tensor], config: dict[str, Any]) -> None:
        """Rebuild the model from a saved ``config`` (:meth:`config`) and load ``state`` into it."""

    def log_mel(self, waves: torch.Tensor) -> torch.Tensor:
        """``(n, time)`` waveforms at :attr:`sample_rate` -> log-mel in dB ``(n, n_mels, frames)``.

        What the quality report (Fréchet distance on pooled bands, train-on-synthetic accuracy),
        the spectrogram grid and the confidence filter are computed on, for real and generated
        clips alike. The default is :func:`mirplug.quality.log_mel` (64 bands); override it to
        report in the generator's own feature space.
        """
        from mirplug.quality import log_mel

        return log_mel(torch.as_tensor(waves, dtype=torch.float32), self.sample_rate or 16000)

    # -- deprecated names (plugin API < 1.0), kept for callers ------------------------
    def _fit(self, waves: torch.Tensor, labels: torch.Tensor, seed: int, progress: Any,
             save_folder: Any) -> dict[str, Any]:
        _deprecated_call("_fit")
        return self.fit_model(waves, labels, seed, progress, save_folder)

    def _sample(self, labels: torch.Tensor, seed: int) -> torch.Tensor:
        _deprecated_call("_sample")
        return self.sample_model(labels, seed)

    def _state(self) -> dict[str, torch.Tensor]:
        _deprecated_call("_state")
        return self.model_state()

    def _restore(self, state: dict[str, torch.Tensor], config: dict[str, Any]) -> None:
        _deprecated_call("_restore")
        self.restore_model(state, config)

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        """Whether the generator has been fitted or loaded."""
        return bool(self.label_names)

    @property
    def checkpoint_hash(self) -> str:
        """The sha256 of the saved weights (computed from the current weights if unsaved)."""
        if self._checkpoint_hash is None:
            from safetensors.torch import save

            self._require_fitted("checkpoint_hash")
            blob = save({k: v.contiguous() for k, v in self.model_state().items()})
            self._checkpoint_hash = hashlib.sha256(blob).hexdigest()
        return self._checkpoint_hash

    def fit(self, waves: torch.Tensor, labels: torch.Tensor, label_names: Sequence[str], sample_rate: int,
            seed: int = 0, progress: Any = None, save_folder: Any = None) -> dict[str, Any]:
        """Fit on training clips ``waves (n, time)`` with integer ``labels (n,)``.

        ``progress(step, steps, losses)`` is called after each step when given. Returns the
        training summary (steps, final losses, loss history). When training diverges
        (NaN/inf loss) the last good weights are kept (and saved into ``save_folder`` when
        given) and a :class:`DataError` names the step.
        """
        waves = torch.as_tensor(waves, dtype=torch.float32)
        labels = torch.as_tensor(labels, dtype=torch.long)
        if waves.dim() != 2 or labels.dim() != 1 or waves.shape[0] != labels.shape[0]:
            raise DataError(f"generator {self.architecture}: expected waves (n, time) and labels (n,), "
                            f"got {tuple(waves.shape)} and {tuple(labels.shape)}")
        names = [str(name) for name in label_names]
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= len(names)):
            raise DataError(f"generator {self.architecture}: labels must lie in 0..{len(names) - 1} "
                            f"for the {len(names)} label names")
        bad = (~torch.isfinite(waves).all(dim=1)).nonzero().flatten()
        if bad.numel():
            raise DataError(f"generator {self.architecture}: training clip {int(bad[0])} has NaN or inf samples")
        minimum = int(self.options.get("min_clips_per_class", 1))
        counts = torch.bincount(labels, minlength=len(names))
        for index, name in enumerate(names):
            if int(counts[index]) < minimum:
                raise DataError(
                    f"generator {self.architecture}: class '{name}' has {int(counts[index])} training clips, "
                    f"fewer than the minimum {minimum} (augmenter.min_clips_per_class); add clips or lower it")
        self.label_names, self.sample_rate, self.clip_samples = names, int(sample_rate), int(waves.shape[1])
        self._checkpoint_hash = None
        self.summary = {}
        started = time.perf_counter()
        try:
            self.summary = self.fit_model(waves, labels, seed, progress, save_folder)
            self.summary["fit_seconds"] = round(time.perf_counter() - started, 2)
        except Exception:
            # A subclass that keeps usable weights on failure (e.g. divergence) records a
            # summary first; otherwise the generator must not look fitted.
            if not self.summary:
                self.label_names = []
            raise
        return self.summary

    def sample(self, counts: dict[int, int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """``counts[class index]`` new clips per class -> ``(waves (n, time), labels (n,))``.

        Seeded: the same ``counts`` and ``seed`` give the same waveforms.
        """
        self._require_fitted("sample")
        wanted: list[int] = []
        for label, count in sorted(counts.items()):
            if not 0 <= int(label) < len(self.label_names):
                raise ConfigError(f"generator {self.architecture}: no class {label}; "
                                  f"classes are 0..{len(self.label_names) - 1}")
            if int(count) < 0:
                raise ConfigError(f"generator {self.architecture}: count {count} for class {label} is negative")
            wanted += [int(label)] * int(count)
        labels = torch.tensor(wanted, dtype=torch.long)
        if not wanted:
            return torch.zeros((0, self.clip_samples)), labels
        return self.sample_model(labels, seed), labels

    def plan_counts(self, labels: torch.Tensor, n_classes: int | None = None) -> dict[int, int]:
        """How many clips to sample per class given the training labels and the options.

        ``per_class`` adds that many to every class; ``balance`` brings every class up to
        the largest one; both together add ``per_class`` on top of balancing. ``n_classes``
        (default: the fitted label names) lets a caller plan before fitting.
        """
        n_classes = len(self.label_names) if n_classes is None else n_classes
        counts = torch.bincount(torch.as_tensor(labels, dtype=torch.long), minlength=n_classes)
        largest = int(counts.max()) if counts.numel() else 0
        per_class = int(self.options.get("per_class", 0) or 0)
        balance = bool(self.options.get("balance", False))
        return {index: per_class + (largest - int(counts[index]) if balance else 0)
                for index in range(n_classes)}

    def config(self) -> dict[str, Any]:
        """Everything :meth:`load` needs besides the weights."""
        return {
            "architecture": self.architecture,
            "factory": f"{type(self).__module__}:{type(self).__qualname__}",
            "label_names": list(self.label_names),
            "sample_rate": self.sample_rate,
            "clip_samples": self.clip_samples,
            "representation": self.representation(),
            "options": {k: v for k, v in self.options.items()},
            "training": self.summary,
        }

    def save(self, folder: Any) -> Any:
        """Write ``generator.safetensors`` and ``generator.json`` into ``folder``; returns the folder."""
        from safetensors.torch import save_file

        self._require_fitted("save")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        weights = folder / self.WEIGHTS_FILE
        save_file({k: v.detach().contiguous() for k, v in self.model_state().items()}, str(weights))
        self._checkpoint_hash = hashlib.sha256(weights.read_bytes()).hexdigest()
        config = {**self.config(), "sha256": self._checkpoint_hash}
        (folder / self.CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True, default=str))
        return folder

    @classmethod
    def load(cls, folder: Any, label_names: Sequence[str], sample_rate: int, clip_samples: int | None = None,
             options: dict[str, Any] | None = None) -> Generator:
        """A fitted generator from ``folder``, checked against what the caller expects.

        Refuses (:class:`ConfigError`, naming the mismatch) a checkpoint whose label names,
        sample rate, clip length (when ``clip_samples`` is given) or representation settings
        differ, or whose weights do not match the recorded sha256. ``options`` (e.g. a new
        ``per_class``) override the saved sampling options.
        """
        from safetensors.torch import load_file

        folder = Path(folder)
        config_path, weights_path = folder / cls.CONFIG_FILE, folder / cls.WEIGHTS_FILE
        for path in (config_path, weights_path):
            if not path.is_file():
                raise ConfigError(f"generator checkpoint {folder}: {path.name} is missing; "
                                  f"point augmenter.checkpoint at a folder written by a fitted generator")
        try:
            config = json.loads(config_path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"generator checkpoint {config_path}: not valid JSON ({exc})") from None
        digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
        if config.get("sha256") != digest:
            raise ConfigError(f"generator checkpoint {weights_path}: sha256 {digest[:12]} differs from the "
                              f"recorded {str(config.get('sha256'))[:12]}; the weights were changed or corrupted")
        module_name, _, attribute = str(config.get("factory", "")).partition(":")
        try:
            target = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError, ValueError):
            raise ConfigError(f"generator checkpoint {folder}: its class {config.get('factory')!r} "
                              f"cannot be imported; install the plugin that made it") from None
        if not (isinstance(target, type) and issubclass(target, cls)):
            raise ConfigError(f"generator checkpoint {folder}: it holds a {config.get('architecture')!r} "
                              f"generator ({config.get('factory')}), not a {cls.__name__}")
        expected_names = [str(name) for name in label_names]
        if config.get("label_names") != expected_names:
            raise ConfigError(f"generator checkpoint {folder}: it was fitted on labels {config.get('label_names')} "
                              f"but this run has labels {expected_names}; fit a new generator")
        if int(config.get("sample_rate", -1)) != int(sample_rate):
            raise ConfigError(f"generator checkpoint {folder}: sample rate {config.get('sample_rate')} Hz "
                              f"differs from this run's {sample_rate} Hz")
        if clip_samples is not None and int(config.get("clip_samples", -1)) != int(clip_samples):
            raise ConfigError(f"generator checkpoint {folder}: clip length {config.get('clip_samples')} samples "
                              f"differs from this run's {clip_samples} samples")
        saved_options = dict(config.get("options", {}))
        generator = target(**{**saved_options, **(options or {})})
        expected_representation = generator.representation()
        if config.get("representation") != expected_representation:
            raise ConfigError(f"generator checkpoint {folder}: representation {config.get('representation')} "
                              f"differs from the expected {expected_representation}")
        generator.label_names, generator.sample_rate = expected_names, int(sample_rate)
        generator.clip_samples = int(config["clip_samples"])
        generator.summary = dict(config.get("training", {}))
        generator.restore_model(load_file(str(weights_path)), config)
        generator._checkpoint_hash = digest
        return generator

    def fit_or_load(self, waves: torch.Tensor, labels: torch.Tensor, label_names: Sequence[str], sample_rate: int,
                    seed: int, folder: Any, progress: Any = None) -> Generator:
        """The ready generator for a run: loaded from ``options["checkpoint"]`` when set, else fitted.

        A loaded checkpoint is checked against ``label_names``, ``sample_rate`` and the clip
        length of ``waves`` and keeps this instance's sampling options (``per_class``,
        ``balance``, ``filter_confidence``). Either way the generator is saved into
        ``folder`` (the run folder's copy), so the run can be reproduced from it alone.
        """
        checkpoint = str(self.options.get("checkpoint") or "")
        keep = {k: v for k, v in self.options.items() if k in SAMPLING_OPTIONS}
        clip_samples = int(torch.as_tensor(waves).shape[-1])
        cached = None if checkpoint else self.cache_folder(waves, labels, label_names, sample_rate, seed)
        if checkpoint:
            generator = type(self).load(checkpoint, label_names, sample_rate, clip_samples=clip_samples,
                                        options={**keep, "checkpoint": checkpoint})
        elif cached is not None:
            from mirplug.publish import lock, publish_folder, remove_stale_temporaries, replace_folder, temporary_folder

            # Fitted once: another process fitting the same generator holds the lock; this one waits and reuses.
            with lock(cached):
                remove_stale_temporaries(cached)
                generator = None
                if (cached / self.WEIGHTS_FILE).is_file():
                    try:
                        generator = type(self).load(cached, label_names, sample_rate, clip_samples=clip_samples,
                                                    options={**self.options})
                        generator.summary = {**generator.summary, "reused_from_cache": str(cached)}
                    except ConfigError:  # a damaged cache entry: fit again and replace it
                        generator = None
                if generator is None:
                    damaged = cached.exists()
                    self.fit(waves, labels, label_names, sample_rate, seed=seed, progress=progress,
                             save_folder=folder)
                    generator = self
                    temporary = temporary_folder(cached)
                    try:
                        generator.save(temporary)
                    except BaseException:
                        shutil.rmtree(temporary, ignore_errors=True)
                        raise
                    # published by one rename: a reader never sees half a generator
                    replace_folder(temporary, cached) if damaged else publish_folder(temporary, cached)
        else:
            self.fit(waves, labels, label_names, sample_rate, seed=seed, progress=progress, save_folder=folder)
            generator = self
        generator.save(folder)
        return generator

    def cache_folder(self, waves: torch.Tensor, labels: torch.Tensor, label_names: Sequence[str], sample_rate: int,
                     seed: int) -> Path | None:
        """Where the fitted generator for exactly these inputs is cached, or None when caching is off.

        The key covers the class, every option that affects fitting (not the sampling options
        ``per_class``, ``balance``, ``filter_confidence``), the training waveforms and labels,
        the label names, sample rate, seed and mirplug's version, so an ablation that varies
        only how many clips are sampled or filtered fits each generator once. ``MIRPLUG_NO_CACHE=1``
        or ``augmenter.cache=false`` turns it off.
        """
        from mirplug import __version__
        from mirplug.paths import cache_dir

        if os.environ.get("MIRPLUG_NO_CACHE") or str(self.options.get("cache", True)).lower() in ("false", "0"):
            return None
        digest = hashlib.blake2b(digest_size=16)
        digest.update(torch.as_tensor(waves, dtype=torch.float32).contiguous().numpy().tobytes())
        digest.update(torch.as_tensor(labels, dtype=torch.long).contiguous().numpy().tobytes())
        fit_options = {k: v for k, v in self.options.items() if k not in SAMPLING_OPTIONS + ("checkpoint", "cache")}
        key = json.dumps({"factory": f"{type(self).__module__}:{type(self).__qualname__}", "options": fit_options,
                          "labels": [str(n) for n in label_names], "sample_rate": int(sample_rate), "seed": int(seed),
                          "data": digest.hexdigest(), "version": __version__}, sort_keys=True, default=str)
        name = hashlib.blake2b(key.encode(), digest_size=12).hexdigest()
        return cache_dir() / "generators" / f"{self.architecture or type(self).__name__.lower()}-{name}"

    def _require_fitted(self, action: str) -> None:
        if not self.fitted:
            raise ConfigError(f"generator {self.architecture}: call fit() or load() before {action}()")


def _alias_renamed_methods(cls: type, renamed: Mapping[str, str]) -> None:
    """Make a subclass that still overrides an old (underscore) method name work under the new one, with a warning."""
    for old, new in renamed.items():
        if old in cls.__dict__ and new not in cls.__dict__:
            warnings.warn(f"{cls.__module__}.{cls.__qualname__} overrides {old}(), deprecated since mirplug plugin "
                          f"API 1.0: rename it to {new}()", DeprecationWarning, stacklevel=3)
            setattr(cls, new, cls.__dict__[old])


def _deprecated_call(old: str, owner: str = "Generator") -> None:
    warnings.warn(f"{owner}.{old}() is deprecated since mirplug plugin API 1.0; call "
                  f"{_RENAMED_METHODS[old]}()", DeprecationWarning, stacklevel=3)


class EmbeddingGenerator(abc.ABC):
    """A class-conditional generator in the embedding space of a frozen backbone (augmenter stage ``"embeddings"``).

    Lifecycle: :meth:`fit` on the training split's embedding rows ``(n, dim)`` (one per window) and
    their class indices ``(n,)``, in seconds; :meth:`sample` draws new labelled rows, seeded (the same
    seed gives the same rows), each with its provenance: a JSON-serialisable dict saying how it was made
    (the rows it came from, the draw). The rows join the training split only, after the backbone: no audio
    is made. The options ``per_class`` (rows added to every class) and ``balance`` (every class brought up
    to the largest) say how many (:meth:`plan_counts`); subclasses implement :meth:`fit_model` and
    :meth:`sample_model` (the underscore names ``_fit`` and ``_sample`` still work, with a
    ``DeprecationWarning``).
    """

    method: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _alias_renamed_methods(cls, {"_fit": "fit_model", "_sample": "sample_model"})

    def __init__(self, per_class: int = 0, balance: bool = False, **options: Any) -> None:
        self.options: dict[str, Any] = {"per_class": per_class, "balance": balance, **options}
        self.n_classes = 0
        self._fitted = False

    @abc.abstractmethod
    def fit_model(self, embeddings: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> None:
        """Fit on ``embeddings`` ``(n, dim)`` float64 with class indices ``labels`` ``(n,)``; draw only from ``rng``."""

    @abc.abstractmethod
    def sample_model(self, label: int, count: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """``count`` rows ``(count, dim)`` of class ``label`` and one JSON-serialisable provenance dict per row."""

    def _fit(self, embeddings: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> None:
        _deprecated_call("_fit", "EmbeddingGenerator")
        self.fit_model(embeddings, labels, rng)

    def _sample(self, label: int, count: int, rng: np.random.Generator) -> tuple[np.ndarray, list[dict[str, Any]]]:
        _deprecated_call("_sample", "EmbeddingGenerator")
        return self.sample_model(label, count, rng)

    def fit(self, embeddings: np.ndarray, labels: np.ndarray, n_classes: int, seed: int) -> EmbeddingGenerator:
        """Fit on the training rows; every class needs at least one row."""
        labels = np.asarray(labels, dtype=int)
        counts = np.bincount(labels, minlength=n_classes)
        if len(embeddings) != len(labels) or not len(labels):
            raise DataError(f"embedding generator {self.method}: {len(embeddings)} rows and {len(labels)} labels")
        self.n_classes = n_classes
        self.counts = counts
        self.fit_model(np.asarray(embeddings, dtype=np.float64), labels, np.random.default_rng([seed, 1]))
        self._fitted = True
        return self

    def sample(self, counts: dict[int, int], seed: int) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
        """``counts[class index]`` rows per class -> rows ``(n, dim)``, labels ``(n,)`` and provenance per row."""
        if not self._fitted:
            raise ConfigError(f"embedding generator {self.method}: sample() before fit()")
        rows, labels, provenance = [], [], []
        for label, count in sorted(counts.items()):
            if count <= 0:
                continue
            if self.counts[label] == 0:
                raise DataError(f"embedding generator {self.method}: class {label} has no training rows to learn from")
            drawn, made = self.sample_model(label, count, np.random.default_rng([seed, 2, label]))
            rows.append(drawn)
            labels += [label] * count
            provenance += made
        if not rows:
            return np.zeros((0, 0)), np.zeros(0, dtype=int), []
        return np.concatenate(rows).astype(np.float32), np.asarray(labels, dtype=int), provenance

    def plan_counts(self, labels: np.ndarray) -> dict[int, int]:
        """Rows to sample per class: ``per_class`` each, plus up to the largest class with ``balance``."""
        counts = np.bincount(np.asarray(labels, dtype=int), minlength=self.n_classes)
        largest = int(counts.max()) if len(counts) else 0
        per_class = int(self.options.get("per_class", 0) or 0)
        balance = bool(self.options.get("balance", False))
        return {index: per_class + (largest - int(counts[index]) if balance else 0) for index in range(len(counts))}
