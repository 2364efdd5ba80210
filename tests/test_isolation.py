"""A broken plugin never takes mirplug down: import errors, raising hooks, misspelt hooks, clashes.

Each fake plugin is a real module file plus a real ``*.dist-info`` folder (METADATA and
entry_points.txt) in a temporary folder, so entry points carry their distribution exactly
as pip-installed plugins do. Every test builds a fresh :class:`PluginHost`.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from importlib import metadata
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mirplug.catalog import Catalog
from mirplug.cli import run as run_cli
from mirplug.cli.plugin_commands import add_plugin_commands
from mirplug.config import resolve
from mirplug.errors import UnknownComponentError
from mirplug.plugins import hook_names, load_plugins


def _builtin_backbones() -> list[str]:
    from mirplug_builtin import backbones

    return [spec.name for spec in backbones.mirplug_register_backbones()]


# what the built-in 'backbones' plugin registers, in its order (the tests check it survives others' failures)
BUILTIN_BACKBONES = _builtin_backbones()


REPRESENTATION_PLUGIN = """
from mirplug.hookspecs import hookimpl
from mirplug.specs import RepresentationSpec

@hookimpl
def mirplug_register_representations():
    return [RepresentationSpec(name="{component}", summary="test feature",
                               factory="mirplug_builtin.representations.mel:LogMel", license="MIT")]
"""


def make_plugin(folder: Path, monkeypatch: pytest.MonkeyPatch, distribution: str, entry_name: str,
                source: str) -> list[metadata.EntryPoint]:
    """Write a uniquely named module and its dist-info into ``folder``; return its entry points."""
    # a unique module name per call: sys.modules would otherwise return an earlier test's module
    module = f"{distribution.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    (folder / f"{module}.py").write_text(textwrap.dedent(source))
    info = folder / f"{distribution.replace('-', '_')}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[mirplug]\n{entry_name} = {module}\n")
    monkeypatch.syspath_prepend(str(folder))
    return list(metadata.Distribution.at(info).entry_points)


def builtin_entry_points() -> list[metadata.EntryPoint]:
    """The built-in plugins' entry points (from the installed mirplug distribution)."""
    return [ep for ep in metadata.entry_points(group="mirplug") if ep.dist and ep.dist.metadata["Name"] == "mirplug"]


def test_plugin_that_raises_on_import_is_recorded_and_the_rest_works(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = make_plugin(tmp_path, monkeypatch, "brokenplug", "broken", "raise RuntimeError('boom at import')\n")
    host = load_plugins(builtin_entry_points() + broken)
    assert [(f.name, f.distribution, f.version, f.stage, f.error) for f in host.failures] == [
        ("broken", "brokenplug", "1.2.3", "import", "RuntimeError: boom at import")]
    assert host.failures[0].line() == ("plugin 'broken' from brokenplug 1.2.3 failed (import): "
                                       "RuntimeError: boom at import")
    catalog = Catalog.from_host(host)
    config = resolve(catalog, ["task=genre"])
    assert (config.task.name, config.representation.name, config.backbone.name) == ("genre", "mel", "cnn")


def test_broken_plugin_shows_in_plugins_command_and_run_still_works(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_plugin(tmp_path, monkeypatch, "brokenplug", "broken", "import no_such_module_for_mirplug_tests\n")
    from mirplug.cli import app

    result = CliRunner().invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    failed = json.loads(result.stdout)["failed"]
    assert failed == [{"name": "broken", "distribution": "brokenplug", "version": "1.2.3", "stage": "import",
                       "error": "ModuleNotFoundError: No module named 'no_such_module_for_mirplug_tests'"}]
    out = tmp_path / "runs"
    result = CliRunner().invoke(app, ["run", "task=genre", "data.clips_per_class=6", "train.epochs=1",
                                      "backbone=mlp", f"out={out}"])
    assert result.exit_code == 0, result.output
    assert "plugin 'broken' from brokenplug 1.2.3 failed (import)" in result.output
    (folder,) = out.iterdir()
    assert (folder / "metrics.json").exists()


def test_hook_that_raises_is_recorded_and_other_hooks_of_other_plugins_work(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = """
    from mirplug.hookspecs import hookimpl

    @hookimpl
    def mirplug_register_backbones():
        raise ValueError("backbones exploded")
    """
    entry_points = make_plugin(tmp_path, monkeypatch, "raisingplug", "raising", source)
    catalog = Catalog.from_host(load_plugins(builtin_entry_points() + entry_points))
    assert [(f.name, f.distribution, f.stage, f.error) for f in catalog.failures] == [
        ("raising", "raisingplug", "hook mirplug_register_backbones", "ValueError: backbones exploded")]
    assert catalog.names("backbone") == sorted(BUILTIN_BACKBONES)


def test_hook_returning_the_wrong_spec_kind_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = """
    from mirplug.hookspecs import hookimpl
    from mirplug.specs import BackboneSpec

    @hookimpl
    def mirplug_register_representations():
        return [BackboneSpec(name="oops", summary="wrong kind", factory="x:y")]
    """
    entry_points = make_plugin(tmp_path, monkeypatch, "wrongplug", "wrong", source)
    catalog = Catalog.from_host(load_plugins(builtin_entry_points() + entry_points))
    assert [f.error for f in catalog.failures] == [
        "TypeError: mirplug_register_representations returned BackboneSpec, not RepresentationSpec"]
    assert "oops" not in catalog.names("representation")


def test_misspelt_hook_names_the_plugin_and_the_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = """
    from mirplug.hookspecs import hookimpl

    @hookimpl
    def mirplug_register_representation():
        return []
    """
    entry_points = make_plugin(tmp_path, monkeypatch, "typoplug", "typo", source)
    host = load_plugins(builtin_entry_points() + entry_points)
    (failure,) = host.failures
    assert (failure.name, failure.distribution, failure.stage) == ("typo", "typoplug", "validation")
    assert failure.error.startswith(
        "plugin 'typo' implements unknown hook 'mirplug_register_representation'; known hooks: "
        f"{', '.join(sorted(hook_names()))}")
    assert "typo" not in host.plugins
    # the plugins registered before and after it are intact
    assert sorted(host.plugins) == ["augmenters", "backbones", "datasets", "representations", "tasks"]
    assert "mel" in Catalog.from_host(host).names("representation")


def test_hook_without_marker_is_an_error_naming_plugin_and_hook(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = """
    def mirplug_register_tasks():
        return []
    """
    entry_points = make_plugin(tmp_path, monkeypatch, "unmarkedplug", "unmarked", source)
    host = load_plugins(builtin_entry_points() + entry_points)
    assert [(f.name, f.stage, f.error) for f in host.failures] == [
        ("unmarked", "validation", "plugin 'unmarked' defines mirplug_register_tasks without @hookimpl; "
                                   "decorate it with 'from mirplug import hookimpl'")]
    assert "unmarked" not in host.plugins and "genre" in Catalog.from_host(host).names("task")


def test_name_clash_names_both_plugins_and_the_qualified_form_chooses(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = make_plugin(tmp_path / "a", monkeypatch, "alpha-plug", "alpha", REPRESENTATION_PLUGIN.format(component="shared"))
    second = make_plugin(tmp_path / "b", monkeypatch, "beta-plug", "beta", REPRESENTATION_PLUGIN.format(component="shared"))
    catalog = Catalog.from_host(load_plugins(builtin_entry_points() + first + second))
    message = ("representation 'shared' is registered by 2 plugins, 'alpha' (alpha-plug 1.2.3) and "
               "'beta' (beta-plug 1.2.3); choose one with representation=alpha:shared or representation=beta:shared")
    with pytest.raises(UnknownComponentError) as caught:
        catalog.get("representation", "shared")
    assert str(caught.value) == message
    assert catalog.clashes() == [message]
    assert catalog.plugin_of("representation", "beta:shared") == "beta"
    config = resolve(catalog, ["task=genre", "representation=alpha:shared"])
    assert config.representation.name == "alpha:shared"
    assert catalog.get("representation", config.representation.name) is catalog.entries["representation"]["shared"][0].spec
    # unrelated lookups are unaffected by the clash
    assert resolve(catalog, ["task=genre"]).representation.name == "mel"
    assert catalog.get("backbone", "cnn").name == "cnn"


def test_load_plugins_env_selects_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    extra = (make_plugin(tmp_path / "a", monkeypatch, "alpha-plug", "alpha", REPRESENTATION_PLUGIN.format(component="afeat"))
             + make_plugin(tmp_path / "b", monkeypatch, "beta-plug", "beta", REPRESENTATION_PLUGIN.format(component="bfeat")))
    builtins = {"augmenters", "backbones", "datasets", "representations", "tasks"}
    monkeypatch.setenv("MIRPLUG_LOAD_PLUGINS", "")
    assert set(load_plugins(builtin_entry_points() + extra).plugins) == builtins
    monkeypatch.setenv("MIRPLUG_LOAD_PLUGINS", "beta, nonexistent")
    assert set(load_plugins(builtin_entry_points() + extra).plugins) == builtins | {"beta"}
    monkeypatch.delenv("MIRPLUG_LOAD_PLUGINS")
    assert set(load_plugins(builtin_entry_points() + extra).plugins) == builtins | {"alpha", "beta"}


def test_trace_prints_each_hook_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    extra = make_plugin(tmp_path, monkeypatch, "alpha-plug", "alpha", REPRESENTATION_PLUGIN.format(component="afeat"))
    monkeypatch.setenv("MIRPLUG_TRACE_PLUGINS", "1")
    Catalog.from_host(load_plugins(builtin_entry_points() + extra))
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert "[trace] registered plugin 'alpha' from alpha-plug 1.2.3: hooks mirplug_register_representations" in lines
    assert "[trace] alpha.mirplug_register_representations() -> [afeat]" in lines
    assert f"[trace] backbones.mirplug_register_backbones() -> [{', '.join(BUILTIN_BACKBONES)}]" in lines
    monkeypatch.delenv("MIRPLUG_TRACE_PLUGINS")
    Catalog.from_host(load_plugins(builtin_entry_points() + extra))
    assert capsys.readouterr().err == ""


COMMANDS_PLUGIN = """
from mirplug.hookspecs import hookimpl


@hookimpl
def mirplug_register_commands(app):
    @app.command("hello")
    def hello(name: str = "world") -> None:
        \"\"\"Say hello.\"\"\"
        print(f"hello {name}")

    @app.command("run")
    def run() -> None:
        \"\"\"Would hijack 'mirplug run'.\"\"\"
        print("hijacked")
"""


def test_mirplug_register_commands_adds_commands_and_guards_builtins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    good = make_plugin(tmp_path / "a", monkeypatch, "hello-plug", "hello", COMMANDS_PLUGIN)
    raising = make_plugin(tmp_path / "b", monkeypatch, "bad-commands", "badcmd", """
    from mirplug.hookspecs import hookimpl

    @hookimpl
    def mirplug_register_commands(app):
        raise RuntimeError("no commands today")
    """)
    app = typer.Typer()
    run_cli.register(app)
    warnings = add_plugin_commands(app, load_plugins(builtin_entry_points() + good + raising))
    assert warnings == [
        "plugin 'hello' tried to add command 'run', which already exists; skipped",
        "plugin 'badcmd' failed (hook mirplug_register_commands): RuntimeError: no commands today",
    ]
    result = CliRunner().invoke(app, ["hello", "--name", "mir"])
    assert (result.exit_code, result.stdout) == (0, "hello mir\n")
    result = CliRunner().invoke(app, ["run", "--help"])
    assert result.exit_code == 0 and "Train and evaluate a model" in result.stdout


def test_help_stays_light_and_lists_plugin_commands(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys\nfrom mirplug.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('torch imported:', 'torch' in sys.modules)\n")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                               env={**__import__("os").environ, "COLUMNS": "200"})
    assert "torch imported: False" in completed.stdout
    for command in ("run", "install", "uninstall", "validate", "new-plugin", "plugins"):
        assert f" {command} " in completed.stdout
