"""Loading a finished run and predicting on new audio files.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mirplug.audio import DEFAULT_MAX_SECONDS, BadClip, decode
from mirplug.catalog import Catalog
from mirplug.components import Representation, Task
from mirplug.build import build_model, build_representation, build_task, pick_device
from mirplug.config import RunConfig, config_from_dict, resolve
from mirplug.errors import RunError
from mirplug.inference import feature_shape, featurize, predict_clips
from mirplug.model import MirModel
from mirplug.rundir import MODEL_FILE, SavedModel, load_model_file, read_yaml
from mirplug.windows import single_clip_windows, window_length


@dataclass
class LoadedRun:
    """A run folder's model (or, after k-fold cross-validation, its fold models), ready to predict."""

    config: RunConfig
    task: Task
    representation: Representation
    models: list[MirModel]
    labels: list[str]
    device: torch.device


def load_run(folder: str | Path, catalog: Catalog) -> LoadedRun:
    """Rebuild the components from ``config.yaml`` and load ``model.safetensors``."""
    folder = Path(folder)
    if not (folder / "config.yaml").exists():
        raise RunError(f"{folder} is not a run folder (no config.yaml); pass --run runs/<timestamp>-<task>")
    # Settings that play no part in predicting (how it was evaluated, augmented, where it was written) are
    # left out: a run made before a check on them became stricter still predicts.
    saved_config = {key: value for key, value in read_yaml(folder / "config.yaml").items()
                    if key not in ("eval", "augmenter", "logger", "out", "name")}
    config = resolve(catalog, config_from_dict(saved_config, str(folder / "config.yaml")))
    task = build_task(catalog, config)
    representation = build_representation(catalog, config)
    device = pick_device(config.train["device"])
    # A cross-validated run keeps one model per fold; predictions use their ensemble.
    model_folders = [folder] if (folder / MODEL_FILE).exists() else sorted(folder.glob("fold-*"))
    if not model_folders:
        raise RunError(f"{folder} has no {MODEL_FILE}; the run did not finish")
    features = feature_shape(representation, window_length(config.data.options["clip_seconds"], representation.sample_rate))
    models, labels = [], []
    for model_folder in model_folders:
        state, saved = load_model_file(model_folder)
        check_features_match(folder, saved, features, representation.frame_rate)
        model = build_model(catalog, config, task, saved.input_shape, saved.frame_rate, len(saved.labels))
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            # "Error(s) in loading state_dict for MirModel:" then one line per tensor: name the first
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            detail = lines[min(1, len(lines) - 1)] if lines else type(exc).__name__
            detail += f" and {len(lines) - 2} more" if len(lines) > 2 else ""
            raise RunError(f"{folder / 'config.yaml'} does not describe the model in {model_folder / MODEL_FILE} "
                           f"({detail}); undo the edits to config.yaml, or train a new model with it") from None
        models.append(model.to(device).eval())
        labels = saved.labels
    return LoadedRun(config, task, representation, models, labels, device)


def check_features_match(folder: Path, saved: SavedModel, features: tuple[int, ...], frame_rate: float | None) -> None:
    """The features ``config.yaml`` describes are the ones the model was trained on (shape and frame rate).

    An edited representation (``n_mels``, ``hop_length_ms``) or ``data.clip_seconds`` would otherwise give
    other probabilities without a word, or fail deep inside the backbone.
    """
    rate_differs = (saved.frame_rate is None) != (frame_rate is None) or (
        saved.frame_rate is not None and frame_rate is not None and abs(saved.frame_rate - frame_rate) > 1e-6)
    if tuple(saved.input_shape) != tuple(features) or rate_differs:
        def rate(value: float | None) -> str:
            return "clip-level" if value is None else f"{value:g} frames/s"

        raise RunError(
            f"{folder / 'config.yaml'} describes features of shape {tuple(features)} ({rate(frame_rate)}), but the "
            f"model was trained on {tuple(saved.input_shape)} ({rate(saved.frame_rate)}); config.yaml was edited "
            f"after training (representation or data.clip_seconds): undo the edits, or train a new model with them"
        )


@torch.no_grad()
def predict_ensemble(loaded: LoadedRun, features: torch.Tensor, windows: Any) -> Any:
    """Clip predictions from the mean of every model's window outputs (one model: just its outputs)."""
    outputs = torch.stack([predict_clips(model, loaded.task, features, windows, loaded.device,
                                         model.backbone.frame_rate)[1] for model in loaded.models]).mean(dim=0)
    return loaded.task.aggregate(outputs, windows, len(windows.rows), loaded.models[0].backbone.frame_rate)


def predict_files(loaded: LoadedRun, files: list[str]) -> list[dict[str, Any]]:
    """One row per file: the task's prediction columns, or ``error`` for a clip that cannot be used."""
    options = loaded.config.data.options
    rows: list[dict[str, Any]] = []
    for path in files:
        try:
            samples = decode(str(path), loaded.representation.sample_rate,
                             options.get("max_seconds", DEFAULT_MAX_SECONDS)).samples
        except BadClip as exc:
            rows.append({"file": str(path), "error": str(exc)})
            continue
        windows = single_clip_windows(samples, loaded.representation.sample_rate, options["clip_seconds"],
                                      options["max_windows"])
        features = featurize(loaded.representation, windows.waves, loaded.device)
        probabilities = predict_ensemble(loaded, features, windows)
        rows.append({"file": str(path), **loaded.task.prediction_rows(probabilities, loaded.labels)[0]})
    return rows
