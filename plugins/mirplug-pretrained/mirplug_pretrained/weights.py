"""Where the published weight files are found: a path, the torch hub cache, or (asked for) the web.

Each backbone names one published file (:class:`WeightsFile`). It is looked up, in order, at
``backbone.weights_path=PATH``, then as ``<torch hub dir>/checkpoints/<file name>`` (where
``torch.hub.load_state_dict_from_url`` keeps its downloads: ``$TORCH_HOME/hub`` or
``~/.cache/torch/hub``), then in the file's own ``extra_folders`` (e.g. ``~/panns_data`` of
panns-inference). Nothing is downloaded unless ``backbone.download=true``. A missing file is one
:class:`WeightsMissing` line naming the file, the folder to put it in and its URL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mirplug import ConfigError


class WeightsMissing(ConfigError):
    """A backbone's weight file is not on this machine and downloading was not asked for."""


@dataclass(frozen=True)
class WeightsFile:
    """One published weight file: its file name, where it is published, other folders it may be in, and
    other published names of the same tensors (another port of the same checkpoint)."""

    file_name: str
    url: str
    extra_folders: tuple[str, ...] = field(default=())
    alternatives: tuple[str, ...] = field(default=())


def checkpoints_dir() -> Path:
    """``<torch hub dir>/checkpoints``: where torch.hub keeps downloaded weights."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def locate(backbone: str, weights: WeightsFile, weights_path: str | None = None, download: bool = False) -> Path:
    """The weight file of ``backbone``: the given path, the torch hub cache, or a download when asked."""
    if weights_path:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise WeightsMissing(f"backbone.weights_path={weights_path}: no such file; it should be "
                                 f"{weights.file_name} from {weights.url}")
        return path
    hub = checkpoints_dir()
    for folder in (hub, *(Path(os.path.expanduser(extra)) for extra in weights.extra_folders)):
        for name in (weights.file_name, *weights.alternatives):
            if (folder / name).is_file():
                return folder / name
    if download:
        import torch

        hub.mkdir(parents=True, exist_ok=True)
        target = hub / weights.file_name
        try:
            torch.hub.download_url_to_file(weights.url, str(target), progress=True)
        except Exception as exc:  # no network, HTTP error, ...: say what to do instead
            raise WeightsMissing(f"backbone {backbone}: downloading {weights.url} failed ({type(exc).__name__}: "
                                 f"{exc}); download it yourself and put it at {target}") from None
        return target
    raise WeightsMissing(f"backbone {backbone} needs its weights file {weights.file_name} in {hub}/ "
                         f"(or backbone.weights_path=PATH, or backbone.download=true to fetch it); "
                         f"it comes from {weights.url}")


def load_state_dict(path: Path, backbone: str, key: str | None = None) -> dict[str, Any]:
    """The tensors of a published ``.pth`` file (``key``: the entry holding them, e.g. PANNs' ``model``)."""
    import torch

    try:
        loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(f"backbone {backbone}: {path} is not a readable PyTorch weights file "
                          f"({type(exc).__name__}: {exc})") from None
    if key is not None and isinstance(loaded, Mapping) and key in loaded:
        loaded = loaded[key]
    if not isinstance(loaded, Mapping):
        raise ConfigError(f"backbone {backbone}: {path} holds a {type(loaded).__name__}, not a state dict")
    return dict(loaded)


def load_into(module: Any, state: Mapping[str, Any], path: Path, backbone: str) -> None:
    """Load ``state`` into ``module`` exactly; a file of another model is refused naming what differs."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:3])}" + (f" and {len(missing) - 3} more" if len(missing) > 3 else ""))
        if unexpected:
            parts.append(f"unexpected {', '.join(unexpected[:3])}"
                         + (f" and {len(unexpected) - 3} more" if len(unexpected) > 3 else ""))
        raise ConfigError(f"backbone {backbone}: {path} is not the expected checkpoint ({'; '.join(parts)})")
    for name, tensor in own.items():
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise ConfigError(f"backbone {backbone}: {path}: tensor {name} has shape {tuple(state[name].shape)}, "
                              f"expected {tuple(tensor.shape)}")
    module.load_state_dict(state)
