"""The plugin API is one import: ``mirplug`` (and ``mirplug.testing``); everything else says it is internal."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import mirplug

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_PACKAGES = [ROOT / "mirplug" / "templates",  # what new-plugin writes
                   ROOT / "tests" / "fixtures" / "mirplug-strangers",  # tests/test_stranger_plugins.py
                   ROOT / "plugins" / "mirplug_builtin",
                   ROOT / "plugins" / "mirplug-essentia" / "mirplug_essentia",
                   ROOT / "plugins" / "mirplug-pretrained" / "mirplug_pretrained",
                   ROOT / "plugins" / "mirplug-tensorboard" / "mirplug_tensorboard",
                   ROOT / "plugins" / "mirplug-mlflow" / "mirplug_mlflow"]


def test_every_public_name_resolves() -> None:
    assert sorted(mirplug.__all__) == sorted(["PLUGIN_API_VERSION", "__version__", *mirplug._PUBLIC])
    for name in mirplug.__all__:
        assert getattr(mirplug, name) is not None, name
    assert set(mirplug.__all__) <= set(dir(mirplug))


def test_plugin_api_version_is_major_dot_minor() -> None:
    major, minor = mirplug.PLUGIN_API_VERSION.split(".")
    assert (int(major), int(minor)) >= (1, 0)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        mirplug.Nope  # noqa: B018


def test_the_light_names_do_not_import_torch() -> None:
    """A plugin's hook module imports these every time mirplug starts: torch must not come with them."""
    code = ("import sys; from mirplug import hookimpl, Option, RepresentationSpec, BackboneSpec, AugmenterSpec, "
            "TaskSpec, DatasetSpec, ConfigError, DataError, PLUGIN_API_VERSION; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def _mirplug_imports(path: Path) -> list[str]:
    """Every ``mirplug.<module>`` a file imports (``mirplug`` and ``mirplug.testing`` are the public surface)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mirplug.") \
                and node.module != "mirplug.testing":
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("mirplug.")]
    return found


def test_plugins_import_only_the_public_surface() -> None:
    """The plugins shipped here are written as a third party would write them."""
    private = {str(path.relative_to(ROOT)): imports for package in PLUGIN_PACKAGES
               for path in sorted(package.rglob("*.py")) if (imports := _mirplug_imports(path))}
    assert private == {}


def test_every_internal_module_says_so() -> None:
    public = {ROOT / "mirplug" / name for name in ("__init__.py", "testing.py", "publish.py")}
    templates = ROOT / "mirplug" / "templates"  # a plugin's files, for new-plugin to copy
    silent = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "mirplug").rglob("*.py"))
              if path not in public and templates not in path.parents
              and "Internal" not in (ast.get_docstring(ast.parse(path.read_text())) or "")]
    assert silent == []
    assert all("plugin API" in (ast.get_docstring(ast.parse(path.read_text())) or "") for path in public)
