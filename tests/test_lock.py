"""The committed lock (requirements/lock.txt) matches pyproject.toml, and this environment is installed from it."""

from __future__ import annotations

import importlib.util
import shutil
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK_SCRIPT = ROOT / "requirements" / "lock.py"


def load_lock_module(root: Path = ROOT):
    spec = importlib.util.spec_from_file_location("mirplug_lock", root / "requirements" / "lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pins(lock: Path) -> list[Requirement]:
    """Every ``name==version ; marker`` line of a pip-tools style lock (hashes and comments skipped)."""
    lines = [line.rstrip(" \\") for line in lock.read_text().splitlines()]
    return [Requirement(line) for line in lines if line and not line.startswith((" ", "#", "-"))]


def pinned_version(requirements: list[Requirement], name: str, environment: dict[str, str]) -> str | None:
    for requirement in requirements:
        if canonicalize_name(requirement.name) == canonicalize_name(name) and (
                requirement.marker is None or requirement.marker.evaluate(environment)):
            (specifier,) = requirement.specifier
            return specifier.version
    return None


def project_requirements() -> list[Requirement]:
    """What both pyproject.toml files ask for: dependencies, extras and build requirements."""
    lock = load_lock_module()
    found = []
    for project in lock.requirement_inputs()["projects"].values():
        texts = [*project["dependencies"], *project["build-system"]]
        texts += [text for extra in project["optional-dependencies"].values() for text in extra]
        found += [Requirement(text) for text in texts]
    return [requirement for requirement in found if canonicalize_name(requirement.name) not in ("mirplug",)]


def test_the_lock_was_made_from_the_current_pyproject():
    assert load_lock_module().check() == 0


def test_a_changed_requirement_makes_the_check_fail_with_what_to_run(tmp_path, capsys):
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "requirements", copy / "requirements")
    for project in (ROOT / "plugins").glob("*/pyproject.toml"):  # the plugin distributions the lock covers
        (copy / "plugins" / project.parent.name).mkdir(parents=True)
        shutil.copy(project, copy / "plugins" / project.parent.name)
    text = (ROOT / "pyproject.toml").read_text()
    (copy / "pyproject.toml").write_text(text)
    assert load_lock_module(copy).check() == 0
    (copy / "pyproject.toml").write_text(text.replace('"pyyaml>=6"', '"pyyaml>=6", "tqdm>=4"'))
    assert load_lock_module(copy).check() == 1
    assert "requirements/lock.txt is out of date" in capsys.readouterr().err
    # a change that is not about requirements (a tool's settings) leaves the lock valid
    (copy / "pyproject.toml").write_text(text.replace("line-length = 110", "line-length = 100"))
    assert load_lock_module(copy).check() == 0


@pytest.mark.parametrize("python", ["3.10", "3.11", "3.12", "3.13"])
def test_every_requirement_has_a_pin_that_satisfies_it(python):
    environment = {**default_environment(), "python_version": python, "python_full_version": f"{python}.0",
                   "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"}
    locked = pins(ROOT / "requirements" / "lock.txt")
    for requirement in project_requirements():
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        version = pinned_version(locked, requirement.name, environment)
        assert version is not None, f"{requirement.name} is not in requirements/lock.txt for Python {python}"
        assert requirement.specifier.contains(version, prereleases=True), (requirement, version)


def test_torch_and_torchaudio_are_locked_as_the_pair_pyproject_pins():
    environment = default_environment()
    locked = pins(ROOT / "requirements" / "lock.txt")
    project = load_lock_module().requirement_inputs()["projects"]["pyproject.toml"]
    declared = {canonicalize_name(r.name): r for r in map(Requirement, project["dependencies"])}
    for name in ("torch", "torchaudio"):
        (specifier,) = declared[name].specifier
        assert specifier.operator == "==", f"{name} must be pinned exactly in pyproject.toml"
        assert pinned_version(locked, name, environment) == specifier.version


def test_this_environment_is_installed_from_the_lock():
    environment = default_environment()
    locked = pins(ROOT / "requirements" / "lock.txt")
    for requirement in locked:
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        (specifier,) = requirement.specifier
        installed = metadata.version(requirement.name)
        assert installed.split("+")[0] == specifier.version, (requirement.name, installed)
