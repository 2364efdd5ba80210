"""Regenerate or check the committed lock (``make lock``; the tests run ``--check``).

The lock is made by uv's resolver (``uv pip compile --universal``) and written in the pip-tools
requirements format, so plain ``pip install --require-hashes -r requirements/lock.txt`` installs it
too. Three files come out of three inputs:

``bootstrap.in -> bootstrap.txt``  the installer itself (uv), installed by the venv's own pip
``lock.in      -> lock.txt``       every other package, transitive ones included, at one exact version
                                   per Python version (3.10 and newer) and platform, with hashes
``no-deps.in   -> no-deps.txt``    packages installed without their declared requirements (musicnn:
                                   we read its weight files; its TensorFlow 1 requirements are obsolete;
                                   mirdata: its smart_open[all] pulls cloud SDKs never used here)

Resolution only sees releases uploaded before ``EXCLUDE_NEWER`` and prefers the versions already in
the lock, so running it again gives the same files: moving ``EXCLUDE_NEWER`` forward is how the lock
is upgraded, on purpose, in a commit that also runs the tests.

``lock.txt`` starts with a digest of everything the resolution depends on (the requirements of both
``pyproject.toml`` files, the ``.in`` files and the settings below). ``--check`` recomputes it
offline and says what to do when ``pyproject.toml`` changed but the lock did not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: bootstrap.txt installs tomli
    import tomli as tomllib  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYPROJECTS = (ROOT / "pyproject.toml", ROOT / "plugins" / "mirplug-essentia" / "pyproject.toml",
              ROOT / "plugins" / "mirplug-pretrained" / "pyproject.toml",
              ROOT / "plugins" / "mirplug-tensorboard" / "pyproject.toml",
              ROOT / "plugins" / "mirplug-mlflow" / "pyproject.toml")
# the oldest Python mirplug supports; --universal then covers every newer one
PYTHON_VERSION = "3.10"
EXCLUDE_NEWER = "2026-12-01T00:00:00Z"
LOCAL_PACKAGES = ("mirplug", "mirplug-essentia", "mirplug-pretrained", "mirplug-tensorboard", "mirplug-mlflow")
DIGEST_PREFIX = "# inputs-sha256: "


def requirement_inputs() -> dict[str, object]:
    """What the resolution depends on, in a stable form (comments and unrelated settings left out)."""
    projects = {}
    for path in PYPROJECTS:
        data = tomllib.loads(path.read_text())
        project = data.get("project", {})
        projects[str(path.relative_to(ROOT))] = {
            "dependencies": project.get("dependencies", []),
            "optional-dependencies": project.get("optional-dependencies", {}),
            "requires-python": project.get("requires-python"),
            "build-system": data.get("build-system", {}).get("requires", []),
        }
    inputs = {name: _requirement_lines(HERE / name) for name in ("bootstrap.in", "lock.in", "no-deps.in")}
    settings = {"python-version": PYTHON_VERSION, "exclude-newer": EXCLUDE_NEWER, "local": LOCAL_PACKAGES}
    return {"projects": projects, "inputs": inputs, "settings": settings}


def _requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def digest() -> str:
    """SHA-256 of :func:`requirement_inputs`."""
    return hashlib.sha256(json.dumps(requirement_inputs(), sort_keys=True).encode()).hexdigest()


def recorded_digest(lock: Path = HERE / "lock.txt") -> str | None:
    """The digest written into ``lock.txt`` when it was made, or None."""
    if not lock.exists():
        return None
    for line in lock.read_text().splitlines():
        if line.startswith(DIGEST_PREFIX):
            return line[len(DIGEST_PREFIX):].strip()
    return None


def compile_lock(uv: str) -> None:
    """Run uv for the three files, then write the digest into ``lock.txt``."""
    common = ["pip", "compile", "--quiet", "--universal", "--python-version", PYTHON_VERSION, "--generate-hashes",
              "--exclude-newer", EXCLUDE_NEWER, "--custom-compile-command", "make lock", "--index-url",
              "https://pypi.org/simple", "--no-config"]
    local = [arg for name in LOCAL_PACKAGES for arg in ("--no-emit-package", name)]
    runs = [
        ["bootstrap.in", "-o", "bootstrap.txt"],
        ["lock.in", "-o", "lock.txt", *local],
        ["no-deps.in", "-o", "no-deps.txt", "--no-deps"],
    ]
    for args in runs:
        subprocess.run([uv, *common, *args], cwd=HERE, check=True)
    lock = HERE / "lock.txt"
    lines = [line for line in lock.read_text().splitlines() if not line.startswith(DIGEST_PREFIX)]
    # after uv's own header, which ends at the first line that is not a comment
    at = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    lines.insert(at, f"{DIGEST_PREFIX}{digest()}")
    lock.write_text("\n".join(lines) + "\n")


def check() -> int:
    """0 when ``lock.txt`` was made from the current inputs; else one line saying what to run."""
    recorded, current = recorded_digest(), digest()
    if recorded == current:
        print(f"requirements/lock.txt is up to date with pyproject.toml (inputs {current[:12]})")
        return 0
    print(f"requirements/lock.txt is out of date: it was made from inputs {str(recorded)[:12]}, pyproject.toml and "
          f"requirements/*.in now give {current[:12]}; run `make lock` and commit requirements/", file=sys.stderr)
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that the lock matches its inputs")
    parser.add_argument("--uv", default="uv", help="the uv executable (make lock passes the venv's)")
    args = parser.parse_args()
    if args.check:
        return check()
    found = shutil.which(args.uv)  # uv runs inside requirements/: a relative path must not break
    if found is None:
        print(f"no uv at {args.uv}; `make lock` installs it into .venv first", file=sys.stderr)
        return 2
    compile_lock(str(Path(found).resolve()))
    return check()


if __name__ == "__main__":
    sys.exit(main())
