"""Whether the compiled libraries mirplug runs on load, and one line saying what to do when they do not.

torchaudio is a compiled extension built against one torch release: a mismatched pair (torchaudio 2.11.1
with torch 2.11.0) fails at ``import torchaudio`` with an ``OSError`` about an undefined symbol, which
without this module surfaced as a plugin that "cannot be loaded". :func:`broken_environment` imports each
compiled dependency in turn and names the first that fails, with its installed version (read from the
distribution metadata, which works even when the import fails) and the fix. The pair mirplug needs is read
from mirplug's own requirements (``torch==X``, ``torchaudio==Y`` in ``pyproject.toml``), never written
here. Only the standard library is imported at module level: this module must work when nothing else does.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from importlib import metadata

CORE_DISTRIBUTION = "mirplug"
PAIR = ("torch", "torchaudio")
# Distribution -> the module imported to check it (scipy's compiled parts load with its submodules).
COMPILED: dict[str, str] = {
    "torch": "torch", "torchaudio": "torchaudio", "numpy": "numpy", "scipy": "scipy.stats",
    "soundfile": "soundfile", "soxr": "soxr",
}
MAKE_INSTALL = "run `make install` in a checkout"
_MAX_ERROR_CHARS = 400
_EXACT_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;,]+)\s*$")
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)([^;]*)$")
_DIRECTORIES = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\\/\s:'\"]+)+[\\/](?=[^\\/\s]+)")


@dataclass(frozen=True)
class ImportCheck:
    """The result of importing one dependency: its installed version and the error, if any."""

    distribution: str
    module: str
    version: str | None  # from the distribution metadata; None when it is not installed
    error: str | None  # ``"OSError: ..."`` on one line; None when the import worked

    @property
    def ok(self) -> bool:
        """Whether the module imported."""
        return self.error is None


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution`` from its metadata, or ``None`` when not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def error_line(exc: BaseException) -> str:
    """``"Type: message"`` on one short line, folders left out of file paths (the file name stays).

    Explicit causes (``raise ... from``) are appended: torch wraps the loader's "undefined symbol: ..." in
    "Could not load this library: ...", and the symbol is what tells a mismatched build.
    """
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None and len(parts) < 3:
        message = " ".join(str(current).split())
        name = type(current).__name__
        part = _DIRECTORIES.sub("", f"{name}: {message}" if message else name)
        if not any(part.split(": ", 1)[-1] in earlier for earlier in parts):
            parts.append(part)
        current = current.__cause__
    text = ", caused by ".join(parts)
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


def _requirements(distribution: str = CORE_DISTRIBUTION) -> list[str]:
    """``distribution``'s unconditional requirements (extras and markers left out); empty if unknown."""
    try:
        requirements = metadata.requires(distribution) or []
    except metadata.PackageNotFoundError:
        return []
    return [requirement for requirement in requirements if ";" not in requirement]


def declared_pins(distribution: str = CORE_DISTRIBUTION) -> dict[str, str]:
    """The exact pins (``name==version``) among ``distribution``'s requirements, by normalised name."""
    pins = {}
    for requirement in _requirements(distribution):
        match = _EXACT_PIN.match(requirement)
        if match:
            pins[_normalise(match.group(1))] = match.group(2)
    return pins


def declared_requirement(name: str, distribution: str = CORE_DISTRIBUTION) -> str:
    """How ``distribution`` requires ``name`` (``"soxr>=0.3"``), or just ``name`` when it does not."""
    for requirement in _requirements(distribution):
        match = _REQUIREMENT.match(requirement)
        if match and _normalise(match.group(1)) == _normalise(name):
            return match.group(1) + match.group(2).replace(" ", "")
    return name


def check_import(distribution: str, module: str | None = None) -> ImportCheck:
    """Import ``module`` (default: ``distribution``) and report whether it worked; never raises."""
    module = module or COMPILED.get(distribution, distribution)
    version = installed_version(distribution)
    try:
        importlib.import_module(module)
    except Exception as exc:
        return ImportCheck(distribution, module, version, error_line(exc))
    return ImportCheck(distribution, module, version, None)


def pair_fix() -> str:
    """What to do about torch and torchaudio: the pair mirplug declares and how to install it."""
    pins = declared_pins()
    torch_pin, torchaudio_pin = pins.get("torch"), pins.get("torchaudio")
    if torch_pin and torchaudio_pin:
        return (f"mirplug needs torch=={torch_pin} with torchaudio=={torchaudio_pin}: {MAKE_INSTALL}, "
                f'or pip install "torch=={torch_pin}" "torchaudio=={torchaudio_pin}"')
    return (f"mirplug needs a torchaudio built for the installed torch: {MAKE_INSTALL}, "
            f'or pip install torchaudio of the same release as torch')


def _reinstall_fix(distribution: str) -> str:
    requirement = declared_requirement(distribution)
    return f'reinstall it: {MAKE_INSTALL}, or pip install --force-reinstall "{requirement}"'


def problem_line(check: ImportCheck, torch_version: str | None = None) -> str:
    """One line for a dependency that did not import: what failed, which versions, and the fix."""
    if check.version is None:
        fix = pair_fix() if check.distribution in PAIR else (
            f'install it: {MAKE_INSTALL}, or pip install "{declared_requirement(check.distribution)}"')
        return f"{check.distribution} is not installed; {fix}"
    if check.distribution == "torchaudio" and torch_version is not None:
        return (f"torchaudio {check.version} does not load with torch {torch_version} ({check.error}); "
                f"{pair_fix()}")
    fix = pair_fix() if check.distribution in PAIR else _reinstall_fix(check.distribution)
    return f"{check.distribution} {check.version} does not load ({check.error}); {fix}"


def check_compiled() -> list[ImportCheck]:
    """Import every compiled dependency (torch first: torchaudio and others need it)."""
    return [check_import(distribution, module) for distribution, module in COMPILED.items()]


def problems(checks: list[ImportCheck]) -> list[str]:
    """One line per failed check, torchaudio's naming the torch it was loaded with when torch imported."""
    by_name = {check.distribution: check for check in checks}
    torch_check = by_name.get("torch")
    torch_version = torch_check.version if torch_check is not None and torch_check.ok else None
    return [problem_line(check, torch_version) for check in checks if not check.ok]


def broken_environment() -> str | None:
    """One line naming the first compiled dependency that does not import, or ``None`` when all do.

    Called after an import failed somewhere (a component's factory, a command): when the cause is the
    environment rather than the plugin or mirplug, this says so, with the versions and the fix.
    """
    found = problems(check_compiled())
    return found[0] if found else None


def pair_mismatch() -> str | None:
    """One line when the installed torch or torchaudio differs from the pair mirplug declares, else ``None``.

    A local version label (``2.11.0+cu128``) matches its release (``2.11.0``), as pip's ``==`` does.
    """
    pins = declared_pins()
    installed, declared = [], []
    for name in PAIR:
        pinned, version = pins.get(name), installed_version(name)
        if pinned is not None and version is not None and version.split("+")[0] != pinned:
            installed.append(f"{name} {version}")
            declared.append(f"{name}=={pinned}")
    if not installed:
        return None
    verb = "is" if len(installed) == 1 else "are"
    return (f"{' and '.join(installed)} {verb} installed where mirplug declares {' and '.join(declared)}; "
            f"{pair_fix()}")
