"""Dataset ``hub``: a dataset from the Hugging Face Hub (``data.repo_id``) or a ``save_to_disk``
folder (``data.path``), such as one written by ``mirplug augment``.

``data.synthetic`` selects rows by the ``synthetic`` provenance column: ``exclude`` keeps
the real rows only (the default, so a shared augmented dataset evaluates like the original),
``include`` keeps every row and ``only`` keeps the synthetic rows (of the training split:
validation and test stay real). The audio column is cast to
``Audio(decode=False)``: mirplug decodes the embedded bytes itself with soundfile.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mirplug import DataError

SYNTHETIC_CHOICES = ("exclude", "include", "only")


def load(repo_id: str | None = None, path: str | None = None, revision: str | None = None,
         synthetic: str = "exclude", task: str = "genre", **_: Any) -> Any:
    """Load ``repo_id`` (at ``revision``) or the saved folder ``path``; select rows by ``synthetic``."""
    import datasets

    if synthetic not in SYNTHETIC_CHOICES:
        raise DataError(f"data.synthetic={synthetic}: choose one of {', '.join(SYNTHETIC_CHOICES)}")
    if bool(repo_id) == bool(path):
        raise DataError("data=hub needs exactly one of data.repo_id=OWNER/NAME (a Hub dataset) "
                        "or data.path=DIR (a folder written by save_to_disk or 'mirplug augment')")
    dataset = _from_disk(path) if path else _from_hub(str(repo_id), revision)
    if isinstance(dataset, datasets.DatasetDict):
        if "train" not in dataset:
            raise DataError(f"{path or repo_id}: the dataset has splits {sorted(dataset)} but no 'train' split")
        # Evaluation stays on real clips: data.synthetic=only selects the training rows alone.
        return datasets.DatasetDict({
            name: prepare(split, synthetic if name == "train" or synthetic != "only" else "exclude",
                          f"{path or repo_id} [{name}]")
            for name, split in dataset.items()})
    return prepare(dataset, synthetic, str(path or repo_id))


def _from_disk(path: str) -> Any:
    import datasets

    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise DataError(f"data.path={path}: no such folder")
    try:
        return datasets.load_from_disk(str(folder))
    except FileNotFoundError:
        raise DataError(f"data.path={path}: not a dataset saved with save_to_disk (no dataset_dict.json or "
                        f"dataset_info.json); write one with 'mirplug augment ... out=DIR'") from None


def _from_hub(repo_id: str, revision: str | None) -> Any:
    import datasets
    from huggingface_hub.errors import HFValidationError

    try:
        return datasets.load_dataset(repo_id, revision=revision)
    except HFValidationError as exc:
        raise DataError(f"data.repo_id={repo_id}: not a valid repo id ({str(exc).splitlines()[0]})") from None
    except Exception as exc:
        if not (_network_error(exc) or isinstance(exc, ValueError)):
            raise
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
            hint = (f"offline (HF_HUB_OFFLINE=1) only datasets already in the Hugging Face cache load: run once "
                    f"online, or download it with 'huggingface-cli download --repo-type dataset {repo_id}'")
        else:
            hint = ("check the repo id and data.revision, and for a private or gated dataset log in with "
                    "'huggingface-cli login' or set HF_TOKEN")
        raise DataError(
            f"data.repo_id={repo_id}: cannot load it ({reason}); {hint} (or use data.path=DIR for a saved folder)"
        ) from None


def prepare(dataset: Any, synthetic: str, where: str) -> Any:
    """Check the columns, cast audio to undecoded bytes, add ``id`` if missing and select rows."""
    import datasets

    if "audio" not in dataset.column_names:
        raise DataError(f"{where}: no 'audio' column (columns: {', '.join(dataset.column_names)})")
    if "label" in dataset.column_names and not isinstance(dataset.features["label"], datasets.ClassLabel):
        raise DataError(f"{where}: column 'label' is {dataset.features['label']}, not a ClassLabel")
    dataset = dataset.cast_column("audio", datasets.Audio(decode=False))
    if "synthetic" in dataset.column_names:
        flags = dataset["synthetic"]
        if synthetic == "exclude":
            dataset = dataset.select([i for i, flag in enumerate(flags) if not flag])
        elif synthetic == "only":
            dataset = dataset.select([i for i, flag in enumerate(flags) if flag])
    elif synthetic == "only":
        raise DataError(f"{where}: data.synthetic=only but the dataset has no 'synthetic' column "
                        f"(it was not written by 'mirplug augment'); use data.synthetic=include")
    if "id" not in dataset.column_names:
        dataset = dataset.add_column("id", [f"row-{i}" for i in range(len(dataset))])
    return dataset


def _network_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a connection/timeout error of the HTTP stack (OSError or httpx's own family)."""
    root = type(exc).__module__.split(".")[0]
    return isinstance(exc, OSError) or root in ("httpx", "httpx2", "httpcore", "requests", "urllib3")
