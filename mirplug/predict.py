"""Loading a finished run and predicting on new audio files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mirplug.audio import BadClip, decode
from mirplug.catalog import Catalog
from mirplug.components import Representation, Task
from mirplug.data import single_clip_windows
from mirplug.config import RunConfig, config_from_dict, resolve
from mirplug.errors import RunError
from mirplug.model import MirModel, build_model, build_representation, featurize
from mirplug.rundir import MODEL_FILE, load_model_file, read_yaml
from mirplug.runner import build_task, pick_device, predict_clips


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
    config = resolve(catalog, config_from_dict(read_yaml(folder / "config.yaml")))
    task = build_task(catalog, config)
    representation = build_representation(catalog, config)
    device = pick_device(config.train["device"])
    # A cross-validated run keeps one model per fold; predictions use their ensemble.
    model_folders = [folder] if (folder / MODEL_FILE).exists() else sorted(folder.glob("fold-*"))
    if not model_folders:
        raise RunError(f"{folder} has no {MODEL_FILE}; the run did not finish")
    models, labels = [], []
    for model_folder in model_folders:
        state, saved = load_model_file(model_folder)
        model = build_model(catalog, config, task, saved.input_shape, saved.frame_rate, len(saved.labels))
        model.load_state_dict(state)
        models.append(model.to(device).eval())
        labels = saved.labels
    return LoadedRun(config, task, representation, models, labels, device)


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
            samples = decode(str(path), loaded.representation.sample_rate).samples
        except BadClip as exc:
            rows.append({"file": str(path), "error": str(exc)})
            continue
        windows = single_clip_windows(samples, loaded.representation.sample_rate, options["clip_seconds"],
                                      options["max_windows"])
        features = featurize(loaded.representation, windows.waves, loaded.device)
        probabilities = predict_ensemble(loaded, features, windows)
        rows.append({"file": str(path), **loaded.task.prediction_rows(probabilities, loaded.labels)[0]})
    return rows
