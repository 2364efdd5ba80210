"""Installing plugins with pip, the plugin registry and the manifest of installed plugins.

Plugins are ordinary pip packages, so installing one is ``python -m pip install`` run with
the interpreter mirplug itself runs in (never a ``pip`` found on ``PATH``, which may belong
to another environment). ``registry.yaml`` lists known plugins; anything else is installed
only after a warning. Every plugin installed through mirplug is recorded in
``<config dir>/plugins.json`` so that ``mirplug plugins restore`` can reinstall them after
mirplug itself was reinstalled or upgraded.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mirplug.errors import MirplugError
from mirplug.paths import config_dir

REGISTRY_FIELDS: tuple[str, ...] = ("name", "requirement", "kinds", "summary", "homepage", "license")
MANIFEST_NAME = "plugins.json"


class InstallError(MirplugError):
    """pip failed, or what was asked for cannot be installed."""


@dataclass(frozen=True)
class RegistryEntry:
    """A known plugin: its short name, the pip requirement and what it provides."""

    name: str
    requirement: str
    kinds: tuple[str, ...]
    summary: str
    homepage: str
    license: str


@dataclass(frozen=True)
class ManifestEntry:
    """One plugin installed through mirplug: how to install it again."""

    name: str
    requirement: str
    editable: bool = False
    source: str = "requirement"


def registry_path() -> Path:
    """``registry.yaml``: ``$MIRPLUG_REGISTRY`` or the one next to the mirplug sources."""
    if os.environ.get("MIRPLUG_REGISTRY"):
        return Path(os.environ["MIRPLUG_REGISTRY"]).expanduser()
    return Path(__file__).resolve().parent.parent / "registry.yaml"


def parse_registry(data: Any, where: str) -> list[RegistryEntry]:
    """Check the registry's schema (list of mappings with exactly the known fields) and parse it."""
    from mirplug.specs import KINDS

    if not isinstance(data, list):
        raise MirplugError(f"{where}: the registry must be a YAML list of plugins")
    entries = []
    for position, item in enumerate(data):
        label = f"{where}: entry {position + 1}"
        if not isinstance(item, dict):
            raise MirplugError(f"{label} is not a mapping")
        missing = [key for key in REGISTRY_FIELDS if key not in item]
        unknown = sorted(set(item) - set(REGISTRY_FIELDS))
        if missing or unknown:
            raise MirplugError(f"{label} ({item.get('name', '?')}): missing keys {missing}, unknown keys {unknown}; "
                               f"every entry has exactly: {', '.join(REGISTRY_FIELDS)}")
        for key in REGISTRY_FIELDS:
            if key == "kinds":
                continue
            if not isinstance(item[key], str) or not item[key].strip():
                raise MirplugError(f"{label} ({item['name']}): '{key}' must be a non-empty string")
        kinds = item["kinds"]
        if not isinstance(kinds, list) or not kinds or any(k not in KINDS for k in kinds):
            raise MirplugError(f"{label} ({item['name']}): 'kinds' must be a non-empty list of {', '.join(KINDS)}")
        entries.append(RegistryEntry(item["name"], item["requirement"], tuple(kinds), item["summary"],
                                     item["homepage"], item["license"]))
    names = [entry.name for entry in entries]
    if names != sorted(names):
        raise MirplugError(f"{where}: entries must be sorted by name")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise MirplugError(f"{where}: duplicate names {', '.join(duplicates)}")
    return entries


def load_registry(path: Path | None = None) -> dict[str, RegistryEntry]:
    """The registry by name; a missing file is an empty registry (everything then warns)."""
    import yaml

    path = path or registry_path()
    if not path.exists():
        return {}
    with open(path) as handle:
        return {entry.name: entry for entry in parse_registry(yaml.safe_load(handle), str(path))}


# --------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------
def manifest_path() -> Path:
    """The manifest of installed plugins in the user's config folder."""
    return config_dir() / MANIFEST_NAME


MANIFEST_SOURCES = ("requirement", "path", "registry")


def read_manifest() -> list[ManifestEntry]:
    """The recorded plugins, sorted by name (none when the file does not exist yet).

    Every field is checked for its type; what a requirement may be is checked by
    :func:`check_requirement` before it reaches pip (:func:`manifest_requirement`).
    """
    path = manifest_path()
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
        entries = [ManifestEntry(**item) for item in data["plugins"]]
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise MirplugError(f"{path} is not a valid plugin manifest ({exc}); fix or delete it") from None
    for entry in entries:
        if not (isinstance(entry.name, str) and isinstance(entry.requirement, str)
                and isinstance(entry.editable, bool) and entry.source in MANIFEST_SOURCES):
            raise MirplugError(f"{path}: plugin entry {entry.name!r} is not valid (name and requirement are text, "
                               f"editable true or false, source one of {', '.join(MANIFEST_SOURCES)}); fix or "
                               f"delete that entry")
    return entries


def manifest_requirement(entry: ManifestEntry) -> str:
    """The entry's requirement after :func:`check_requirement`; a pip option or anything else is refused,
    naming the entry and the manifest."""
    where = f"{manifest_path()}: plugin entry '{entry.name}'"
    kind = check_requirement(entry.requirement, where)
    if (entry.editable or entry.source == "path") and kind != "path":
        raise InstallError(f"{where} is installed from a local folder, but {entry.requirement!r} is no existing "
                           f"folder; restore the folder or fix or delete that entry")
    return entry.requirement


def write_manifest(entries: Sequence[ManifestEntry]) -> Path:
    """Write the manifest atomically (a crash mid-write must not lose the list)."""
    path = manifest_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    unique = {entry.name: entry for entry in entries}
    data = {"plugins": [asdict(unique[name]) for name in sorted(unique)]}
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
    os.replace(handle.name, path)
    return path


def record(entry: ManifestEntry) -> None:
    """Add or replace ``entry`` in the manifest."""
    write_manifest([e for e in read_manifest() if canonical(e.name) != canonical(entry.name)] + [entry])


def forget(name: str) -> bool:
    """Remove ``name`` from the manifest; returns whether it was there."""
    entries = read_manifest()
    kept = [e for e in entries if canonical(e.name) != canonical(name)]
    write_manifest(kept)
    return len(kept) != len(entries)


def requirement_line(entry: ManifestEntry) -> str:
    """One requirements-file line: ``-e PATH``, ``name @ file:///PATH`` or the requirement as given (checked:
    a line from a tampered manifest must not become a pip option in someone's requirements file)."""
    requirement = manifest_requirement(entry)
    if entry.editable:
        return f"-e {Path(requirement).expanduser().resolve()}"
    if entry.source == "path":
        return f"{entry.name} @ {Path(requirement).expanduser().resolve().as_uri()}"
    return requirement


def requirements_text(entries: Sequence[ManifestEntry]) -> str:
    """The manifest as a pip requirements file."""
    return "".join(f"{requirement_line(e)}\n" for e in entries)


# --------------------------------------------------------------------------------------
# Resolving what to install
# --------------------------------------------------------------------------------------
def canonical(name: str) -> str:
    """A distribution name normalized as pip does (PEP 503)."""
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


@dataclass(frozen=True)
class Target:
    """What ``mirplug install X`` resolved X to."""

    requirement: str
    source: str  # "registry", "path" or "requirement"
    registry_name: str | None = None
    name: str | None = None  # distribution name when known before installing


def looks_like_path(text: str) -> bool:
    """A local folder or archive: an existing path, or something written like one (a direct reference
    ``name @ https://...`` has slashes too, but is a requirement)."""
    if direct_reference(text):
        return False
    return Path(text).exists() or text.startswith((".", "/", "~")) or os.sep in text


def direct_reference(text: str) -> bool:
    """Whether ``text`` is a PEP 508 requirement with a URL (``name @ https://...``)."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return Requirement(text).url is not None
    except InvalidRequirement:
        return False


def check_requirement(text: Any, where: str) -> str:
    """What pip may be given: ``"requirement"`` (PEP 508, direct references included) or ``"path"`` (an
    existing local file or folder). Anything else, above all text that pip would read as one of its own
    options (``--index-url=...``, ``-r FILE``), raises :class:`InstallError` naming ``where``."""
    from packaging.requirements import InvalidRequirement, Requirement

    if not isinstance(text, str) or not text.strip() or text.strip().startswith("-"):
        raise InstallError(f"{where}: {text!r} is not a requirement but looks like a pip option; only pip "
                           f"requirements (name, name>=1, name @ https://...) or local paths are installed")
    try:
        Requirement(text)
        return "requirement"
    except InvalidRequirement as exc:
        if Path(text).expanduser().exists():
            return "path"
        raise InstallError(f"{where}: {text!r} is neither a valid pip requirement ({exc}) nor an existing "
                           f"local path") from None


def resolve_target(text: str, registry: dict[str, RegistryEntry]) -> Target:
    """Registry name, then local path, then a pip requirement; bad input raises :class:`InstallError`."""
    from packaging.requirements import InvalidRequirement, Requirement

    if text in registry:
        entry = registry[text]
        if entry.requirement.startswith("./"):
            # A plugin that lives in this repository (e.g. the AGPL Essentia plugin): a folder
            # relative to registry.yaml.
            path = (registry_path().parent / entry.requirement).resolve()
            if not path.exists():
                raise InstallError(f"registry entry '{text}' points at {path}, which does not exist")
            return Target(str(path), "registry", entry.name, _project_name(path))
        return Target(entry.requirement, "registry", entry.name, Requirement(entry.requirement).name)
    if text.strip().startswith("-"):
        check_requirement(text, "mirplug install")  # refused: a pip option, not something to install
    if looks_like_path(text):
        path = Path(text).expanduser().resolve()
        if not path.exists():
            raise InstallError(f"{text}: no such file or folder; give a registry name, a pip requirement or a path")
        return Target(str(path), "path", None, _project_name(path))
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise InstallError(f"'{text}' is neither a registry name, a path nor a valid pip requirement ({exc})") from None
    return Target(text, "requirement", None, requirement.name)


def _project_name(path: Path) -> str | None:
    """``[project].name`` of a source folder's pyproject.toml, when there is one."""
    pyproject = path / "pyproject.toml"
    if not path.is_dir() or not pyproject.exists():
        return None
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: pip's report gives the name after installing
        return None
    with open(pyproject, "rb") as handle:
        name = tomllib.load(handle).get("project", {}).get("name")
    return name if isinstance(name, str) else None


def registry_entry_of(name: str, registry: dict[str, RegistryEntry]) -> RegistryEntry | None:
    """The registry entry whose short name or requirement's distribution is ``name``."""
    if name in registry:
        return registry[name]
    for entry in registry.values():
        distribution = distribution_of(entry)
        if distribution and canonical(distribution) == canonical(name):
            return entry
    return None


def distribution_of(entry: RegistryEntry) -> str | None:
    """The pip distribution a registry entry installs (a repository folder: its pyproject's name)."""
    from packaging.requirements import Requirement

    if entry.requirement.startswith("./"):
        return _project_name((registry_path().parent / entry.requirement).resolve())
    return Requirement(entry.requirement).name


# --------------------------------------------------------------------------------------
# pip
# --------------------------------------------------------------------------------------
def pip_command(*args: str) -> list[str]:
    """``python -m pip ...`` for the interpreter mirplug runs in."""
    return [sys.executable, "-m", "pip", *args]


def run_pip(args: Sequence[str], what: str) -> None:
    """Run pip, streaming its output; a failure raises one clear line."""
    command = pip_command(*args)
    completed = subprocess.run(command, check=False)
    if completed.returncode != 0:
        raise InstallError(f"pip failed to {what} (exit {completed.returncode}); see pip's output above. "
                           f"Command: {' '.join(command)}")


def pip_install(target: Target, upgrade: bool = False, editable: bool = False,
                extra_args: Sequence[str] = ()) -> str:
    """Install ``target`` with pip; return the distribution name that was requested."""
    if editable and target.source != "path":
        raise InstallError(f"--editable needs a local folder, not '{target.requirement}'")
    # the same check for what came from the command line, the registry or the manifest; what is installed
    # goes after "--", so pip reads it as a requirement whatever it looks like
    kind = check_requirement(target.requirement, f"requirement of {target.name or target.requirement}")
    if editable and kind != "path":
        raise InstallError(f"--editable needs an existing local folder, not '{target.requirement}'")
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        args = ["install", "--report", str(report)]
        if upgrade:
            args.append("--upgrade")
        args += list(extra_args)
        # an editable install is pip's -e option: its value is a resolved absolute path, never an option
        args += ["-e", str(Path(target.requirement).expanduser().resolve())] if editable else ["--", target.requirement]
        run_pip(args, f"install {target.requirement}")
        name = target.name or _requested_name(report)
    if name is None:
        raise InstallError(f"installed {target.requirement} but could not tell its distribution name; "
                           f"give it a pyproject.toml with [project] name")
    return name


def _requested_name(report: Path) -> str | None:
    """The distribution name of the requested item in pip's installation report."""
    if not report.exists():
        return None
    for item in json.loads(report.read_text()).get("install", []):
        if item.get("requested"):
            return str(item["metadata"]["name"])
    return None


def installed_version(name: str) -> str | None:
    """The installed version of distribution ``name``, or ``None``."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
