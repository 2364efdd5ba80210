"""Plugins for real: scaffold, pip-install into a fresh virtual environment, validate, run, uninstall.

The environment is made with ``python -m venv``; a ``.pth`` file makes the running
interpreter's site-packages (torch, mirplug itself, ...) visible in it, so nothing heavy is
reinstalled. Plugins are built by pip without build isolation, with the setuptools and wheel
of the locked environment (requirements/lock.txt), and pip may not reach any index: the tests
never touch the network. They are installed into the new environment only; every command runs
as a user would type it, as ``<venv>/bin/python -m mirplug.cli ...``.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TINY
from typer.testing import CliRunner

from mirplug.cli import app
from mirplug.scaffold import new_plugin


# pip without the network: no index, no pip.conf of the machine (its extra indexes and find-links),
# a proxy that refuses every connection, and builds with the environment's own setuptools. pip
# reads PIP_NO_BUILD_ISOLATION inverted: "false" turns build isolation off.
OFFLINE_PIP = {"PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull, "PIP_NO_BUILD_ISOLATION": "false",
               "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
               "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}


class Venv:
    """A fresh virtual environment that sees this interpreter's packages, with its own config and cache."""

    def __init__(self, root: Path, config: Path, cache: Path) -> None:
        self.root, self.config, self.cache = root, config, cache
        self.python = root / "bin" / "python"

    def run(self, *args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``python args...`` in the venv; returns stdout and stderr as text."""
        env = {**os.environ, "MIRPLUG_CONFIG_DIR": str(self.config), "MIRPLUG_CACHE_DIR": str(self.cache),
               "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "COLUMNS": "200",
               "PIP_DISABLE_PIP_VERSION_CHECK": "1", **OFFLINE_PIP}
        env.pop("PYTHONPATH", None)
        completed = subprocess.run([str(self.python), *args], env=env, capture_output=True, text=True, input=stdin,
                                   timeout=300, check=False)
        if check and completed.returncode != 0:
            raise AssertionError(f"{args} exited {completed.returncode}:\n{completed.stdout}\n{completed.stderr}")
        return completed

    def mirplug(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``mirplug args...`` with the venv's interpreter."""
        return self.run("-m", "mirplug.cli", *args, check=check)

    def manifest(self) -> dict[str, list[dict[str, object]]]:
        """The venv user's plugin manifest."""
        return json.loads((self.config / "plugins.json").read_text())


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
    purelib = subprocess.run([str(root / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # addsitedir (not a bare path) so the parent's own .pth files (editable mirplug, ...) are processed too
    parents = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]] if Path(p).is_dir()]
    lines = [f"import site; site.addsitedir({p!r})" for p in dict.fromkeys(parents)]
    (Path(purelib) / "zz_mirplug_parent.pth").write_text("\n".join(lines) + "\n")
    yield Venv(root, tmp_path_factory.mktemp("config"), tmp_path_factory.mktemp("cache"))


def test_plugin_lifecycle_in_a_fresh_venv(venv: Venv, tmp_path: Path) -> None:
    plugin = new_plugin("myfeat", "representation", tmp_path)
    broken = new_plugin("crashy", "backbone", tmp_path)
    # a plugin whose module raises on import, installed exactly like a good one
    hooks = broken / "mirplug_crashy" / "__init__.py"
    hooks.write_text(hooks.read_text() + "\nraise RuntimeError('crashy is broken')\n")

    assert "mirplug-myfeat" not in venv.run("-m", "pip", "list").stdout
    installed = venv.mirplug("install", "--yes", str(plugin))
    assert "is not in mirplug's plugin registry" in installed.stderr
    assert "installed mirplug-myfeat" in installed.stderr
    venv.mirplug("install", "--yes", "--editable", str(broken))
    assert venv.manifest() == {"plugins": [
        {"name": "mirplug-crashy", "requirement": str(broken), "editable": True, "source": "path"},
        {"name": "mirplug-myfeat", "requirement": str(plugin), "editable": False, "source": "path"},
    ]}
    assert venv.mirplug("plugins", "--requirements").stdout == (
        f"-e {broken}\nmirplug-myfeat @ {plugin.as_uri()}\n")

    listed = json.loads(venv.mirplug("plugins", "--json").stdout)
    (myfeat,) = [p for p in listed["plugins"] if p["name"] == "myfeat"]
    assert (myfeat["distribution"], myfeat["version"], myfeat["builtin"], myfeat["components"]) == (
        "mirplug-myfeat", "0.1.0", False, ["representation:myfeat"])
    assert listed["failed"] == [{"name": "crashy", "distribution": "mirplug-crashy", "version": "0.1.0",
                                 "stage": "import", "error": "RuntimeError: crashy is broken"}]
    table = venv.mirplug("plugins").stdout
    assert "crashy" in table and "RuntimeError: crashy is broken" in table

    validated = venv.mirplug("validate", "myfeat")
    assert "11 passed, 0 failed, 0 skipped" in validated.stdout
    failing = venv.mirplug("validate", "crashy", check=False)
    assert failing.returncode == 1
    assert "0 passed, 1 failed, 0 skipped" in failing.stdout

    out = tmp_path / "runs"
    ran = venv.mirplug("run", "task=genre", "representation=myfeat", "data.clips_per_class=6", "train.epochs=1",
                       "backbone=mlp", f"out={out}")
    assert "warning: plugin 'crashy' from mirplug-crashy 0.1.0 failed (import): RuntimeError: crashy is broken" in ran.stderr
    (folder,) = out.iterdir()
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["epochs_run"] == 1 and metrics["n_train"] > 0
    assert "name: myfeat" in (folder / "config.yaml").read_text()

    # the plugin's own tests pass unchanged in the environment it was installed into
    tests = venv.run("-m", "pytest", "-q", "-p", "no:cacheprovider", str(plugin / "tests"), check=False)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout

    venv.mirplug("uninstall", "mirplug-crashy")
    assert [p["name"] for p in venv.manifest()["plugins"]] == ["mirplug-myfeat"]
    # pip alone removes it (as reinstalling mirplug into a new environment would); restore brings it back
    venv.run("-m", "pip", "uninstall", "--yes", "mirplug-myfeat")
    assert "myfeat" not in [p["name"] for p in json.loads(venv.mirplug("plugins", "--json").stdout)["plugins"]]
    restored = venv.mirplug("plugins", "restore")
    assert "restored 1 plugin(s): mirplug-myfeat" in restored.stderr
    assert "myfeat" in [p["name"] for p in json.loads(venv.mirplug("plugins", "--json").stdout)["plugins"]]

    removed = venv.mirplug("uninstall", "myfeat")
    assert "uninstalled mirplug-myfeat" in removed.stderr
    assert venv.manifest() == {"plugins": []}
    assert venv.mirplug("plugins", "--requirements").stdout == ""
    listed = json.loads(venv.mirplug("plugins", "--json").stdout)
    # what the host environment has besides (e.g. the Essentia plugin) may show too; myfeat is gone
    names = {p["name"] for p in listed["plugins"]}
    assert {"augmenters", "backbones", "datasets", "representations", "tasks"} <= names and "myfeat" not in names
    assert listed["failed"] == []
    missing = venv.mirplug("uninstall", "myfeat", check=False)
    assert (missing.returncode, missing.stderr) == (
        2, "error: plugin 'myfeat' is not installed; 'mirplug plugins' lists what is\n")


def test_issue_14_done_when_a_new_generator_installs_validates_and_runs(venv: Venv, tmp_path: Path) -> None:
    """``mirplug new-plugin mygen --kind generator``, ``mirplug install ./mirplug-mygen``, ``mirplug validate mygen``
    and ``mirplug run task=genre augmenter=mygen augmenter.per_class=5`` pass unchanged (the run on tiny data;
    the full command is in the issue 14 note)."""
    plugin = new_plugin("mygen", "generator", tmp_path)
    venv.mirplug("install", "--yes", str(plugin))
    validated = venv.mirplug("validate", "mygen")
    assert "11 passed, 0 failed, 0 skipped" in validated.stdout and "log-mel for quality reports" in validated.stdout
    venv.mirplug("run", "task=genre", "augmenter=mygen", "augmenter.per_class=5", *TINY, "data.styles=2",
                 f"out={tmp_path / 'runs'}", "name=done")
    (report,) = json.loads((tmp_path / "runs" / "done" / "quality.json").read_text())
    assert (report["augmenter"], report["architecture"], report["sampled"]) == ("mygen", "mygen", 10)
    assert json.loads((tmp_path / "runs" / "done" / "metrics.json").read_text())["n_train"] > 0
    venv.mirplug("uninstall", "mygen")


def test_unlisted_install_warns_and_asks_first(tmp_path: Path) -> None:
    plugin = new_plugin("asked", "augmenter", tmp_path)
    result = CliRunner().invoke(app, ["install", str(plugin)], input="n\n")
    assert result.exit_code == 1
    assert (f"warning: '{plugin}' is not in mirplug's plugin registry. A plugin is ordinary Python code that runs "
            f"with your permissions every time mirplug starts; install it only if you trust its author.") in result.output
    assert "Install it anyway? [y/N]: n\nnot installed" in result.output
    assert not (tmp_path / "config" / "plugins.json").exists()


def test_registry_names_install_without_warning(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["install", "representations"])
    assert (result.exit_code, result.output) == (0, "'representations' is built into mirplug; nothing to install\n")
    refused = CliRunner().invoke(app, ["uninstall", "representations"])
    assert refused.exit_code == 1
    assert str(refused.exception) == "'representations' is built into mirplug and cannot be uninstalled on its own"


def test_bad_install_targets_are_one_line_errors(tmp_path: Path) -> None:
    missing = CliRunner().invoke(app, ["install", "--yes", str(tmp_path / "nowhere")])
    assert str(missing.exception) == (f"{tmp_path / 'nowhere'}: no such file or folder; give a registry name, "
                                      f"a pip requirement or a path")
    invalid = CliRunner().invoke(app, ["install", "--yes", "not a requirement!"])
    assert str(invalid.exception).startswith("'not a requirement!' is neither a registry name, a path nor a valid "
                                             "pip requirement")
    editable = CliRunner().invoke(app, ["install", "--yes", "--editable", "somepackage"])
    assert str(editable.exception) == "--editable needs a local folder, not 'somepackage'"


def test_uninstalling_a_registry_plugin_from_a_repository_folder_names_its_distribution(monkeypatch) -> None:
    """``essentia`` is registered as ``./plugins/mirplug-essentia``: its distribution comes from that pyproject."""
    import mirplug.installer

    calls: list[list[str]] = []
    monkeypatch.setattr(mirplug.installer, "run_pip", lambda args, what: calls.append(args))  # keep this venv intact
    monkeypatch.setattr(mirplug.installer, "installed_version", lambda distribution: "0.1.0")
    result = CliRunner().invoke(app, ["uninstall", "essentia"])
    assert result.exit_code == 0, result.output
    assert calls == [["uninstall", "--yes", "mirplug-essentia"]]
    assert "uninstalled mirplug-essentia" in result.output
