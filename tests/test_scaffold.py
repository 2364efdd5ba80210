"""``mirplug new-plugin`` writes a package whose component passes the contract checks, for every kind.

The package is put on ``sys.path`` with a real ``*.dist-info`` (METADATA and entry_points.txt)
next to it, exactly what pip would leave behind, so the plugin loads through its entry point.
(tests/test_install.py installs one with pip for real.)
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mirplug.catalog import Catalog
from mirplug.cli import app
from mirplug.errors import MirplugError
from mirplug.plugins import load_plugins
from mirplug.scaffold import new_plugin
from mirplug.testing import FAIL, check_plugin

HOOK_OF_KIND = {
    "representation": "mirplug_register_representations",
    "backbone": "mirplug_register_backbones",
    "augmenter": "mirplug_register_augmenters",
    "generator": "mirplug_register_augmenters",
    "task": "mirplug_register_tasks",
    "dataset": "mirplug_register_datasets",
    "logger": "mirplug_register_loggers",
}
COMPONENT_KIND = {"generator": "augmenter"}  # a generator is an augmenter with stage="generator"


def as_if_installed(root: Path, site: Path, monkeypatch: pytest.MonkeyPatch) -> list[metadata.EntryPoint]:
    """Make the scaffolded package importable and give it the dist-info pip would write."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    lines = "".join(f"{name} = {value}\n" for name, value in project["entry-points"]["mirplug"].items())
    (info / "entry_points.txt").write_text(f"[mirplug]\n{lines}")
    monkeypatch.syspath_prepend(str(root))
    return list(metadata.Distribution.at(info).entry_points)


@pytest.mark.parametrize("kind", list(HOOK_OF_KIND))
def test_scaffolded_plugin_passes_validation(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"scaf{kind[:4]}"
    result = CliRunner().invoke(app, ["new-plugin", name, "--kind", kind, "--path", str(tmp_path)])
    assert result.exit_code == 0, result.output
    root = tmp_path / f"mirplug-{name}"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == [
        "README.md", f"mirplug_{name}/__init__.py", f"mirplug_{name}/component.py", "pyproject.toml",
        f"tests/test_{name}.py"]
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["mirplug"] == {name: f"mirplug_{name}"}
    assert "from mirplug.testing import" in (root / "tests" / f"test_{name}.py").read_text()
    assert f"mirplug validate {name}" in (root / "README.md").read_text()

    host = load_plugins([ep for ep in metadata.entry_points(group="mirplug") if ep.dist.metadata["Name"] == "mirplug"]
                        + as_if_installed(root, tmp_path / "site", monkeypatch))
    assert host.failures == []
    assert host.plugins[name].hooks == [HOOK_OF_KIND[kind]]
    results = check_plugin(name, Catalog.from_host(host), tmp_path / "work")
    assert [r for r in results if r.status == FAIL] == []
    assert {r.component for r in results} == {f"{COMPONENT_KIND.get(kind, kind)}:{name}"}
    assert len(results) >= 7
    if kind in ("task", "dataset"):
        (run,) = [r for r in results if r.check == "tiny end-to-end run"]
        assert run.status == "pass" and "macro_f1=" in run.detail


def test_new_plugin_rejects_bad_names_and_existing_folders(tmp_path: Path) -> None:
    with pytest.raises(MirplugError, match=re.escape("plugin name 'My-Feat' must start with a lowercase letter")):
        new_plugin("My-Feat", "representation", tmp_path)
    with pytest.raises(MirplugError, match=re.escape("--kind feature is not a kind new-plugin can write; choose one "
                                                     "of: augmenter, backbone, dataset, generator, logger, representation")):
        new_plugin("myfeat", "feature", tmp_path)
    new_plugin("myfeat", "representation", tmp_path)
    with pytest.raises(MirplugError, match="already exists; choose another name or --path"):
        new_plugin("myfeat", "backbone", tmp_path)
