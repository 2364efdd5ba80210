"""The run folder: what a run leaves behind, and how ``mirplug predict`` loads it again.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mirplug import __version__
from mirplug.errors import RunError

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.yaml"  # the resolved config: written first, enough to rerun or resume the run


def check_out_folder(out: str | Path, what: str = "out") -> None:
    """``out`` is a folder or can become one: neither it nor a folder above it is a file."""
    path = Path(out)
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            if not candidate.is_dir():
                where = "" if candidate == path else f" ({candidate} is a file)"
                raise RunError(f"{what}={out} is not a folder{where}; choose a folder for the run folders")
            return


def new_run_folder(out: str, task: str, name: str | None) -> Path:
    """``<out>/<timestamp>-<task>`` (or ``<out>/<name>``), made unique with a suffix."""
    check_out_folder(out)
    base = Path(out) / (name or f"{time.strftime('%Y%m%d-%H%M%S')}-{task}")
    folder, suffix = base, 1
    while folder.exists():
        suffix += 1
        folder = base.with_name(f"{base.name}-{suffix}")
    folder.mkdir(parents=True)
    return folder


def write_yaml(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` as YAML, keys in the given order."""
    import yaml

    path.write_text(yaml.safe_dump(dict(data), sort_keys=False))


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping; a missing, unreadable or malformed file is one :class:`RunError` line."""
    import yaml

    path = Path(path)
    if path.is_dir():
        raise RunError(f"{path} is a folder, not a config file; pass the config.yaml inside a run folder")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunError(f"{path}: no such file; pass a run's config.yaml (runs/<timestamp>-<task>/config.yaml)") from None
    except UnicodeDecodeError:
        raise RunError(f"{path} is not a text file (not UTF-8); pass a YAML config such as a run's config.yaml") from None
    except OSError as exc:
        raise RunError(f"{path} cannot be read ({exc.strerror or exc})") from None
    try:
        data = yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise RunError(f"{path} is not valid YAML{where}: {problem}; fix it or start from a run's config.yaml") from None
    except (ValueError, OverflowError) as exc:  # e.g. a date that does not exist (2021-02-30)
        raise RunError(f"{path}: a value cannot be read ({exc}); fix it or start from a run's config.yaml") from None
    except RecursionError:
        raise RunError(f"{path} is nested too deeply to be a config; start from a run's config.yaml") from None
    if not isinstance(data, dict):
        raise RunError(f"{path} is not a YAML mapping (key: value lines); start from a run's config.yaml")
    return data


def _loader() -> Any:
    """PyYAML's SafeLoader, except that a non-zero float too small for a double (``1.0e-400``) is an error
    instead of a silent 0.0 (:class:`mirplug.specs.Option` refuses the same on the command line)."""
    import yaml

    class Loader(yaml.SafeLoader):
        def construct_yaml_float(self, node: Any) -> float:
            value = super().construct_yaml_float(node)
            if value == 0.0 and any(digit in str(node.value).lower().partition("e")[0] for digit in "123456789"):
                raise yaml.constructor.ConstructorError(
                    None, None, f"{node.value} is too small to be represented (it would become 0)", node.start_mark)
            return value

    Loader.add_constructor("tag:yaml.org,2002:float", Loader.construct_yaml_float)
    return Loader


def write_csv(path: Path, rows: Iterable[Mapping[str, Any]], columns: list[str] | None = None) -> None:
    """Write dict rows as CSV (the header is written even with no rows)."""
    rows = list(rows)
    columns = columns or list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


# How a run went (times, versions, cache use), as opposed to its results in metrics.json; the
# runner writes it last, so a run folder holding it is finished.
RUN_FACTS_FILE = "run.json"


def is_finished(folder: Path) -> bool:
    """Whether the run in ``folder`` finished: its ``run.json`` is there and readable.

    An unfinished run folder holds ``RUNNING`` (present while a process works in it, and left
    behind when that process was killed) and ``checkpoint/``; ``mirplug run --resume`` continues it.
    """
    try:
        json.loads((folder / RUN_FACTS_FILE).read_text())
    except (OSError, ValueError):
        return False
    return True


def write_json(path: Path, data: Any) -> None:
    """Write JSON, indented."""
    path.write_text(json.dumps(data, indent=2) + "\n")


@dataclass
class SavedModel:
    """What ``model.safetensors`` holds besides the weights."""

    labels: list[str]
    input_shape: tuple[int, ...]
    frame_rate: float | None


MODEL_METADATA_KEY = "mirplug"


def save_model(folder: Path, model: Any, saved: SavedModel) -> None:
    """Save the weights as safetensors with the labels and input shape as metadata."""
    from safetensors.torch import save_file

    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    fields = {"labels": saved.labels, "input_shape": list(saved.input_shape), "frame_rate": saved.frame_rate,
              "mirplug_version": __version__}
    # One metadata entry: safetensors writes several in hash order, so identical runs gave different bytes.
    save_file(state, str(folder / MODEL_FILE), metadata={MODEL_METADATA_KEY: json.dumps(fields, sort_keys=True)})


def load_model_file(folder: Path) -> tuple[dict[str, Any], SavedModel]:
    """The state dict and metadata saved by :func:`save_model`."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = folder / MODEL_FILE
    if not path.exists():
        raise RunError(f"{folder} has no {MODEL_FILE}; pass the folder of a finished run (runs/<timestamp>-<task>)")
    # safetensors reports a truncated, empty or garbled file with its own exception type (not an OSError)
    damaged = (f"{path} is damaged (empty, truncated or not a safetensors file); run the training again or "
               f"restore the file from a copy")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as exc:
        raise RunError(f"{damaged} ({type(exc).__name__}: {(str(exc).splitlines() or [''])[0]})") from None
    try:
        if MODEL_METADATA_KEY in metadata:
            fields = json.loads(metadata[MODEL_METADATA_KEY])
        else:  # written before the single entry: one JSON value per key
            fields = {key: json.loads(value) for key, value in metadata.items() if key != "mirplug_version"}
        saved = SavedModel([str(label) for label in fields["labels"]], tuple(int(n) for n in fields["input_shape"]),
                           None if fields.get("frame_rate") is None else float(fields["frame_rate"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise RunError(f"{path} lacks mirplug metadata ({type(exc).__name__}: {exc}); it was not written by "
                       f"mirplug run") from None
    try:
        return load_file(str(path)), saved
    except Exception as exc:
        raise RunError(f"{damaged} ({type(exc).__name__}: {(str(exc).splitlines() or [''])[0]})") from None


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(temporary_path)``, flush it to disk, then rename it to ``path``.

    A kill at any moment leaves either the old file or the new one, never half of one.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(temporary)
        with open(temporary, "rb") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (see :func:`atomic_write`)."""
    text = json.dumps(data, indent=1) + "\n"
    atomic_write(path, lambda temporary: Path(temporary).write_text(text))


@contextmanager
def run_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder/RUNNING`` (an exclusive lock, released by the OS if the process dies) while a run works.

    A second process on the same folder (resuming a run that is still running) is refused.
    The marker is removed when the block ends normally.
    """
    marker = folder / "RUNNING"
    handle = open(marker, "a+")
    try:
        try:
            import fcntl
        except ImportError:  # Windows: no lock, the marker only
            fcntl = None  # type: ignore[assignment]
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                owner = handle.read().strip() or "another process"
                raise RunError(f"{folder} is being written by a running mirplug ({owner}); wait for it to end "
                               f"or stop it, then resume") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        yield
        marker.unlink(missing_ok=True)
    finally:
        handle.close()


def learning_curves(folder: Path, history: list[dict[str, Any]], metric: str) -> None:
    """Plot training and validation loss and the validation metric per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, [h["train_loss"] for h in history], label="train")
    left.plot(epochs, [h["validation_loss"] for h in history], label="validation")
    left.set_xlabel("epoch")
    left.set_ylabel("loss")
    left.legend()
    right.plot(epochs, [h[f"validation_{metric}"] for h in history], color="tab:green")
    right.set_xlabel("epoch")
    right.set_ylabel(f"validation {metric}")
    figure.tight_layout()
    figure.savefig(folder / "learning_curves.png", dpi=110)
    plt.close(figure)
