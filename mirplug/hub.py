"""``mirplug push``: a saved (augmented) dataset -> Parquet shards + a dataset card on the Hub.

The upload is staged first: every file that goes to the repo (``data/<split>-NNNNN-of-NNNNN.parquet``
in the layout ``DatasetDict.push_to_hub`` uses, and ``README.md`` with the ``configs`` /
``dataset_info`` metadata ``datasets.load_dataset`` reads) is written into a local folder, then the
folder is uploaded in one commit with ``HfApi.upload_folder``. So ``--dry-run`` shows exactly what
would be uploaded (it stops after staging), and pushing the same data again is a no-op: the files
are byte-identical (deterministic Parquet, no timestamps in the card) and huggingface_hub skips an
unchanged commit. Stale shards of an earlier push are deleted in the same commit.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Any

from mirplug import __version__
from mirplug.errors import ConfigError, DataError, MirplugError

PROVENANCE_FILE = "mirplug_provenance.json"
MAX_SHARD_BYTES = 500 * 1024 * 1024  # push_to_hub's default shard size
NON_COMMERCIAL = re.compile(r"\bnc\b|non[- ]?commercial", re.IGNORECASE)
UNKNOWN_LICENSES = {"", "unknown", "as the audio", "as the source dataset", "other"}


class PushError(MirplugError):
    """The Hub refused the push or could not be reached."""


@dataclass
class Staged:
    """What a push uploads: the staging folder and its files (relative paths)."""

    folder: Path
    files: list[str]


def load_saved(folder: Path) -> Any:
    """The ``DatasetDict`` saved in ``folder`` (a single ``Dataset`` becomes its ``train`` split)."""
    import datasets

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder; give a folder written by 'mirplug augment ... out=DIR'")
    try:
        loaded = datasets.load_from_disk(str(folder))
    except FileNotFoundError:
        raise DataError(f"{folder}: not a saved dataset (no dataset_dict.json or dataset_info.json); write one "
                        f"with 'mirplug augment ... out=DIR' or DatasetDict.save_to_disk") from None
    return loaded if isinstance(loaded, datasets.DatasetDict) else datasets.DatasetDict({"train": loaded})


def check_repo_id(repo_id: str) -> str:
    """``OWNER/NAME`` with the Hub's allowed characters, else a :class:`ConfigError`."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise ConfigError(f"repo id '{repo_id}' is not valid: {str(exc).splitlines()[0]}") from None
    if repo_id.count("/") != 1:
        raise ConfigError(f"repo id '{repo_id}' must be OWNER/NAME (letters, digits, '-', '_', '.')")
    return repo_id


def find_token(token: str | None) -> str:
    """The token from ``--token``, ``HF_TOKEN`` or the huggingface_hub login; an error says how to log in."""
    if token:
        return token
    from huggingface_hub import get_token

    found = os.environ.get("HF_TOKEN") or get_token()
    if not found:
        raise ConfigError("no Hugging Face token: run 'huggingface-cli login' (or 'hf auth login'), set HF_TOKEN, "
                          "or pass --token")
    return found


def license_of(provenance: dict[str, Any] | None) -> tuple[str, str | None]:
    """(license id for the card metadata, warning or None) inherited from the source dataset."""
    source = str(((provenance or {}).get("source") or {}).get("license") or "unknown")
    if source.strip().lower() in UNKNOWN_LICENSES:
        return "other", (f"the source dataset's license is '{source}' (unknown): check the rights to the audio "
                         f"before using or redistributing this dataset")
    if NON_COMMERCIAL.search(source):
        return source.lower(), (f"the source dataset's license ({source}) forbids commercial use; so does this "
                                f"derived dataset's")
    return source.lower(), None


def stage(dataset: Any, provenance: dict[str, Any] | None, repo_id: str, folder: Path) -> Staged:
    """Write the Parquet shards and README.md exactly as they will be uploaded into ``folder``."""
    import datasets

    datasets.disable_progress_bars()
    # Loaders of the pushed dataset get a decoding Audio feature (the bytes are embedded either way);
    # casting the feature only changes the schema metadata, not the stored bytes.
    if all(isinstance(part.features.get("audio"), datasets.Audio) for part in dataset.values()):
        dataset = datasets.DatasetDict({split: part.cast_column("audio", datasets.Audio())
                                        for split, part in dataset.items()})
    folder.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    for split, part in dataset.items():
        size = max(1, part.data.nbytes)
        shards = max(1, math.ceil(size / MAX_SHARD_BYTES))
        for index in range(shards):
            name = f"data/{split}-{index:05d}-of-{shards:05d}.parquet"
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            part.shard(num_shards=shards, index=index, contiguous=True).to_parquet(str(folder / name))
            files.append(name)
    (folder / "README.md").write_text(card(dataset, provenance, repo_id), encoding="utf-8")
    files.append("README.md")
    return Staged(folder, sorted(files))


def card_metadata(dataset: Any, license_id: str) -> dict[str, Any]:
    """The README YAML: license, tags and the ``configs`` / ``dataset_info`` that ``load_dataset`` reads."""
    info = next(iter(dataset.values())).info
    features = info.features._to_yaml_list() if info.features is not None else []
    return {
        "license": license_id,
        "tags": ["mirplug", "audio", "data-augmentation"],
        "task_categories": ["audio-classification"],
        "configs": [{"config_name": "default",
                     "data_files": [{"split": split, "path": f"data/{split}-*"} for split in dataset]}],
        "dataset_info": {
            "features": features,
            "splits": [{"name": split, "num_bytes": int(part.data.nbytes), "num_examples": len(part)}
                       for split, part in dataset.items()],
        },
    }


def card(dataset: Any, provenance: dict[str, Any] | None, repo_id: str) -> str:
    """The dataset card (README.md) from the provenance; says so when the provenance is unknown."""
    import yaml

    license_id, warning = license_of(provenance)
    lines = ["---", yaml.safe_dump(card_metadata(dataset, license_id), sort_keys=False).rstrip(), "---", "",
             f"# {repo_id.split('/')[-1]}", ""]
    has_flag = all("synthetic" in part.column_names for part in dataset.values())
    if warning:
        lines += [f"> **License warning:** {warning}.", ""]
    if not has_flag or provenance is None:
        lines += ["## Provenance", "",
                  "Provenance unknown: " + ("this dataset has no `synthetic` column, so real and synthetic rows "
                                            "cannot be told apart." if not has_flag else
                                            f"no `{PROVENANCE_FILE}` was saved with it."), ""]
    if provenance is not None:
        lines += provenance_sections(provenance)
    lines += ["## Rows", "", "| split | rows |", "|---|---|"]
    lines += [f"| {split} | {len(part)} |" for split, part in dataset.items()]
    lines += [""]
    if has_flag:
        lines += ["## Loading only the real rows", "", "```python", "from datasets import load_dataset", "",
                  f'ds = load_dataset("{repo_id}")',
                  'real = ds["train"].filter(lambda row: not row["synthetic"])', "```", "",
                  "or train on them with mirplug:", "", "```",
                  f"mirplug run task={(provenance or {}).get('task', 'genre')} data=hub data.repo_id={repo_id} "
                  f"data.synthetic=exclude", "```", "",
                  "Columns: `synthetic` (bool), `source_id` (the original clip of a transformed copy, empty for "
                  "generated rows), `augmenter`, `augmenter_params` (JSON: exact parameters and seed of the row), "
                  "`generator_hash` (sha256 of the generator checkpoint).", ""]
    lines += [f"Made with mirplug {__version__}.", ""]
    return "\n".join(lines)


def public(value: Any) -> Any:
    """An option value as the card shows it: a local path (``data.path``, ``augmenter.checkpoint``) keeps only
    its last part, ``<local>/genres``; where the files lay on the machine that made the dataset is not the
    readers' business, and the pushed dataset holds the audio itself."""
    if not isinstance(value, str) or not value:
        return value
    windows = PureWindowsPath(value)
    local = (Path(value).is_absolute() or windows.drive or value.startswith(("~", "./", "../", ".\\", "..\\"))
             or ("/" in value or "\\" in value) and Path(value).expanduser().exists())  # not a hub id OWNER/NAME
    if not local:
        return value
    name = windows.name if windows.drive and "/" not in value else Path(value.replace("\\", "/")).name
    return f"<local>/{name or '.'}"


def provenance_sections(provenance: dict[str, Any]) -> list[str]:
    """Markdown for the source, split, augmentation chain, counts and quality."""
    source = provenance.get("source", {})
    split = provenance.get("split", {})
    options = ", ".join(f"{k}={public(v)}" for k, v in sorted((source.get("options") or {}).items()))
    lines = ["## Source", "",
             f"- dataset: `{source.get('dataset')}` ({options})",
             f"- license: {source.get('license', 'unknown')}",
             f"- split: seed {split.get('seed')}, validation {split.get('validation')}, test {split.get('test')}"
             + (" (predefined splits)" if source.get("predefined_splits") else ""),
             f"- task: {provenance.get('task')}, labels: {', '.join(provenance.get('labels', []))}",
             f"- made with mirplug {provenance.get('mirplug_version')}", "",
             "## Augmentation chain", ""]
    for step in provenance.get("augmentation", []):
        settings = ", ".join(f"{k}={public(v)}" for k, v in sorted((step.get("options") or {}).items()))
        lines.append(f"- `{step.get('augmenter')}` ({step.get('kind')}, stage {step.get('stage')}): {settings}; "
                     f"{step.get('rows')} rows")
        if step.get("kind") == "generator":
            lines.append(f"  - architecture: {step.get('architecture')}, checkpoint sha256: "
                         f"`{step.get('checkpoint_hash')}`, seed {step.get('seed')}, trained "
                         f"{step.get('training_steps')} steps on {step.get('training_clips')} real training clips, "
                         f"{step.get('rows')} of {step.get('sampled')} sampled clips kept")
    lines += ["", "## Counts (real / synthetic)", "", "| split | class | real | synthetic |", "|---|---|---|---|"]
    for split_name, table in provenance.get("counts", {}).items():
        for label, count in table.items():
            lines.append(f"| {split_name} | {label} | {count['real']} | {count['synthetic']} |")
    lines += ["", "## Quality", ""]
    quality = provenance.get("quality") or []
    if not quality:
        lines.append("No quality metrics (no generator in the chain).")
    for report in quality:
        distances = ", ".join(f"{label}: {'n/a' if value is None else round(float(value), 2)}"
                              for label, value in (report.get("frechet_distance") or {}).items())
        lines.append(f"- `{report.get('augmenter')}`: Fréchet distance to the real training clips per class "
                     f"({report.get('features')}): {distances}")
        if "tstr_accuracy" in report:
            lines.append(f"  - train on synthetic, test on real accuracy: {report['tstr_accuracy']:.3f} "
                         f"(train on real: {report.get('trtr_accuracy', float('nan')):.3f}; a linear probe on "
                         f"log-mel statistics)")
    return lines + [""]


def read_provenance(folder: Path) -> dict[str, Any] | None:
    """``mirplug_provenance.json`` beside the saved dataset, or None."""
    path = Path(folder) / PROVENANCE_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None


def push(folder: Path, repo_id: str, private: bool = False, dry_run: str | None = None, revision: str | None = None,
         token: str | None = None, staging: Path | None = None) -> dict[str, Any]:
    """Stage and upload ``folder`` to ``repo_id``; with ``dry_run`` stage into that folder and upload nothing.

    Returns a summary: repo, files, commit (None when nothing changed or on a dry run).
    """
    import tempfile

    dataset = load_saved(folder)
    check_repo_id(repo_id)
    provenance = read_provenance(folder)
    if dry_run:
        target = Path(dry_run)
        if target.exists() and any(target.iterdir()):
            raise ConfigError(f"--dry-run {target}: the folder exists and is not empty; choose a new folder")
        staged = stage(dataset, provenance, repo_id, target)
        return {"repo_id": repo_id, "files": staged.files, "folder": str(target), "commit": None, "dry_run": True}
    secret = find_token(token)
    with tempfile.TemporaryDirectory(prefix="mirplug-push-", dir=staging) as scratch:
        staged = stage(dataset, provenance, repo_id, Path(scratch))
        commit = upload(staged, repo_id, private, revision, secret)
    return {"repo_id": repo_id, "files": staged.files, "commit": commit, "dry_run": False}


def upload(staged: Staged, repo_id: str, private: bool, revision: str | None, token: str) -> str | None:
    """Create the repo (and branch) if needed and upload the staged folder in one commit."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()  # one summary line per push instead of a bar per shard

    api = HfApi(token=token, library_name="mirplug", library_version=__version__)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if revision:
            api.create_branch(repo_id, branch=revision, repo_type="dataset", exist_ok=True)
        before = api.repo_info(repo_id, repo_type="dataset", revision=revision).sha
        info = api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=str(staged.folder),
                                 revision=revision, delete_patterns=["data/*.parquet"],
                                 commit_message="Upload dataset with mirplug push")
    except HfHubHTTPError as exc:
        raise PushError(f"the Hub refused the push to {repo_id}: {server_message(exc, token)}; the local data "
                        f"is unchanged") from None
    except Exception as exc:
        if not network_error(exc):
            raise
        raise PushError(f"cannot reach the Hub at {api.endpoint} to push {repo_id}: {hide(str(exc), token)}; "
                        f"the local data is unchanged") from None
    # huggingface_hub drops unchanged files and skips an empty commit, returning the head it found.
    if info.oid == before:
        return None
    return info.oid


def network_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a connection/timeout error of the HTTP stack (OSError or httpx's own family)."""
    root = type(exc).__module__.split(".")[0]
    return isinstance(exc, OSError) or root in ("httpx", "httpx2", "httpcore", "requests", "urllib3")


def server_message(exc: Any, token: str) -> str:
    """The server's own error message of an HTTP error, with the token masked."""
    response = getattr(exc, "response", None)
    message = ""
    if response is not None:
        try:
            body = response.json()
            message = str(body.get("error") or body.get("message") or "") if isinstance(body, dict) else ""
        except ValueError:
            message = response.text[:300]
        message = f"HTTP {response.status_code}" + (f": {message}" if message else "")
    return hide(message or str(exc).splitlines()[0], token)


def hide(text: str, token: str) -> str:
    """``text`` with every occurrence of the token masked."""
    return text.replace(token, "***") if token else text
