"""``mirplug --version``, ``mirplug doctor`` and the one-line error for a broken torch/torchaudio pair.

The broken pair is made for real in a subprocess: a fake ``torchaudio`` package whose import raises what
torchaudio 2.11.1 raises against torch 2.11.0 (torch's "Could not load this library" caused by the loader's
"undefined symbol"), with a ``torchaudio-2.11.1.dist-info`` so ``importlib.metadata`` reports 2.11.1, put
first on ``PYTHONPATH``. Fake third-party plugins are real
packages with a real ``*.dist-info`` (METADATA and entry_points.txt) beside them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

MIRPLUG = str(Path(sys.executable).parent / "mirplug")
UNDEFINED_SYMBOL = "libtorchaudio.so: undefined symbol: torch_exception_get_what_without_backtrace"
# folders are left out of the paths; the cause is kept (it names the symbol)
LOAD_ERROR = f"OSError: Could not load this library: libtorchaudio.so, caused by OSError: {UNDEFINED_SYMBOL}"
BUILTIN_PLUGINS = {"representations", "backbones", "augmenters", "tasks", "datasets"}


def declared_pin(name: str) -> str:
    """The exact version mirplug's metadata requires for ``name`` (``torch==X``)."""
    (pin,) = [r.split("==")[1] for r in metadata.requires("mirplug") or [] if re.match(rf"{name}\s*==", r)]
    return pin


def pair_fix() -> str:
    torch_pin, torchaudio_pin = declared_pin("torch"), declared_pin("torchaudio")
    return (f"mirplug needs torch=={torch_pin} with torchaudio=={torchaudio_pin}: run `make install` in a "
            f'checkout, or pip install "torch=={torch_pin}" "torchaudio=={torchaudio_pin}"')


def broken_pair_line() -> str:
    torch_version = metadata.version("torch")
    return f"torchaudio 2.11.1 does not load with torch {torch_version} ({LOAD_ERROR}); {pair_fix()}"


def python_m(*args: str, pythonpath: Path | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m mirplug.cli ARGS`` with ``pythonpath`` first on the module search path."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), *filter(None, [os.environ.get("PYTHONPATH")])])
    return subprocess.run([sys.executable, "-m", "mirplug.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


def write_distribution(site: Path, name: str, version: str, entry_points: str = "") -> None:
    """The ``*.dist-info`` pip would write: METADATA and, for a plugin, entry_points.txt."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if entry_points:
        (info / "entry_points.txt").write_text(entry_points)


@pytest.fixture(scope="module")
def broken_torchaudio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding torchaudio 2.11.1 as it fails against torch 2.11.0."""
    site = tmp_path_factory.mktemp("broken-torchaudio")
    (site / "torchaudio").mkdir()
    library = site / "torchaudio" / "lib" / "libtorchaudio.so"
    (site / "torchaudio" / "__init__.py").write_text(
        f"try:\n    raise OSError({f'{library.parent}/{UNDEFINED_SYMBOL}'!r})\n"
        f"except OSError as exc:\n    raise OSError('Could not load this library: {library}') from exc\n")
    write_distribution(site, "torchaudio", "2.11.1")
    return site


def test_version_prints_the_distribution_version_without_importing_torch() -> None:
    version = metadata.version("mirplug")
    result = subprocess.run([MIRPLUG, "--version"], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"mirplug {version}\n", "")
    code = ("import sys\nfrom mirplug.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n"
            "    pass\nprint('torch' in sys.modules)\n")
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert imported.stdout == f"mirplug {version}\nFalse\n"


def test_doctor_json_in_a_healthy_environment_exits_0_with_the_real_versions_and_plugins() -> None:
    result = python_m("doctor", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["problems"] == []
    assert report["mirplug"] == metadata.version("mirplug")
    assert report["packages"]["torch"] == metadata.version("torch")
    assert report["packages"]["torchaudio"] == metadata.version("torchaudio")
    assert report["imports"]["torch"] == {"version": metadata.version("torch"), "imports": True,
                                          "error": None}
    assert report["imports"]["torchaudio"]["extension"] == "imports; compiled extension loads (lfilter runs)"
    assert report["pair"] == {"torch": declared_pin("torch"), "torchaudio": declared_pin("torchaudio"),
                              "matches": True}
    assert {p["name"] for p in report["plugins"]["loaded"] if p["builtin"]} == BUILTIN_PLUGINS
    assert report["plugins"]["failed"] == []
    assert report["cache"]["folder"] == os.environ["MIRPLUG_CACHE_DIR"]
    assert report["compute"]["torch_threads"] >= 1 and report["compute"]["cuda"] in (True, False)


def test_doctor_table_names_the_versions_and_plugins_and_says_no_problems() -> None:
    result = python_m("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {cells[0]: cells[1] for line in result.stdout.splitlines()
            if len(cells := [cell.strip() for cell in line.strip("│ ").split("│")]) == 2}
    assert rows["torch"] == metadata.version("torch")
    assert rows["torchaudio"] == metadata.version("torchaudio")
    assert rows["import torchaudio"] == "imports; compiled extension loads (lfilter runs)"
    assert {what for what in rows if what.startswith("plugin ")} >= {f"plugin {n}" for n in BUILTIN_PLUGINS}
    assert rows["plugin tasks"] == f"mirplug {metadata.version('mirplug')}"
    assert result.stdout.splitlines()[-1] == "no problems found"


def test_run_with_a_broken_torchaudio_says_so_in_one_line_instead_of_blaming_the_plugin(
        broken_torchaudio: Path, tmp_path: Path) -> None:
    result = python_m("run", "task=genre", f"out={tmp_path / 'runs'}", pythonpath=broken_torchaudio,
                      cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [f"error: {broken_pair_line()}"]
    assert "reinstall the plugin" not in result.stderr


def test_a_broken_torchaudio_imported_outside_a_factory_is_diagnosed_by_the_command_line(
        broken_torchaudio: Path, tmp_path: Path) -> None:
    # stft needs no torchaudio; the vae generator imports it when it starts fitting, inside the run
    result = python_m("run", "task=genre", "representation=stft", "augmenter=vae", "augmenter.per_class=1",
                      "data.clips_per_class=8",
                      "data.seconds=1.0", "data.clip_seconds=1.0", "train.epochs=1",
                      f"out={tmp_path / 'runs'}", pythonpath=broken_torchaudio, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert errors == [f"error: {broken_pair_line()}"]
    assert result.stderr.splitlines()[-1] == errors[0]
    assert "Traceback" not in result.stderr


def test_doctor_with_a_broken_torchaudio_exits_1_naming_the_pair_and_the_fix(broken_torchaudio: Path) -> None:
    table = python_m("doctor", pythonpath=broken_torchaudio)
    assert table.returncode == 1
    assert [line for line in table.stdout.splitlines() if line.startswith("problem:")] == \
        [f"problem: {broken_pair_line()}"]
    report = json.loads(python_m("doctor", "--json", pythonpath=broken_torchaudio).stdout)
    assert report["problems"] == [broken_pair_line()]
    assert report["imports"]["torchaudio"] == {"version": "2.11.1", "imports": False, "error": LOAD_ERROR}
    assert report["pair"]["matches"] is False and report["imports"]["torch"]["imports"] is True


def test_doctor_exits_1_when_the_installed_torchaudio_is_not_the_declared_release(tmp_path: Path) -> None:
    # only the metadata says 2.11.1; the real torchaudio still imports
    write_distribution(tmp_path, "torchaudio", "2.11.1")
    result = python_m("doctor", "--json", pythonpath=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    declared = f"torchaudio=={declared_pin('torchaudio')}"
    assert report["problems"] == [
        f"torchaudio 2.11.1 is installed where mirplug declares {declared}; {pair_fix()}"]
    assert report["imports"]["torchaudio"]["imports"] is True


def test_a_broken_third_party_plugin_still_gets_the_plugin_message(tmp_path: Path) -> None:
    package = tmp_path / "site" / "mirplug_brokenrep"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        "from mirplug.hookspecs import hookimpl\nfrom mirplug.specs import RepresentationSpec\n\n\n"
        "@hookimpl\ndef mirplug_register_representations():\n"
        "    return [RepresentationSpec(name='brokenrep', summary='broken',\n"
        "                               factory='mirplug_brokenrep.component:Rep', license='MIT')]\n")
    (package / "component.py").write_text("import mirplug_missing_dependency\n")
    write_distribution(tmp_path / "site", "mirplug-brokenrep", "0.1.0",
                       "[mirplug]\nbrokenrep = mirplug_brokenrep\n")
    result = python_m("run", "task=genre", "representation=brokenrep", f"out={tmp_path / 'runs'}",
                      pythonpath=tmp_path / "site", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        ("error: representation 'brokenrep' cannot be loaded from mirplug_brokenrep.component:Rep: "
         "ModuleNotFoundError: No module named 'mirplug_missing_dependency'; "
         "reinstall the plugin that provides it")]


def test_doctor_exits_1_and_names_a_plugin_that_failed_to_load(tmp_path: Path) -> None:
    (tmp_path / "mirplug_brokenhook.py").write_text("raise ImportError('mirplug_brokenhook needs somelib')\n")
    write_distribution(tmp_path, "mirplug-brokenhook", "0.2.0",
                       "[mirplug]\nbrokenhook = mirplug_brokenhook\n")
    result = python_m("doctor", "--json", pythonpath=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["plugins"]["failed"] == [{"name": "brokenhook", "distribution": "mirplug-brokenhook",
                                            "version": "0.2.0", "stage": "import",
                                            "error": "ImportError: mirplug_brokenhook needs somelib"}]
    assert report["problems"] == [
        ("plugin 'brokenhook' from mirplug-brokenhook 0.2.0 failed (import): ImportError: mirplug_brokenhook "
         "needs somelib; reinstall it (pip install --force-reinstall mirplug-brokenhook) or remove it "
         "(mirplug uninstall mirplug-brokenhook)")]


def test_doctor_exits_1_when_torchaudio_imports_but_its_compiled_extension_is_missing(tmp_path: Path) -> None:
    # says its extension loaded and computes filters, but never registered its compiled ops with torch
    (tmp_path / "torchaudio").mkdir()
    (tmp_path / "torchaudio" / "__init__.py").write_text("from torchaudio import _extension, functional\n")
    (tmp_path / "torchaudio" / "_extension.py").write_text("_IS_TORCHAUDIO_EXT_AVAILABLE = True\n")
    (tmp_path / "torchaudio" / "functional.py").write_text(
        "import torch\n\n\n"
        "def melscale_fbanks(n_freqs, f_min, f_max, n_mels, sample_rate, norm=None, mel_scale='htk'):\n"
        "    return torch.zeros(n_freqs, n_mels)\n")
    write_distribution(tmp_path, "torchaudio", declared_pin("torchaudio"))
    result = python_m("doctor", "--json", pythonpath=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["problems"] == [
        (f"torchaudio {declared_pin('torchaudio')} imports but fails when called (AttributeError: "
         f"'_OpNamespace' 'torchaudio' object has no attribute '_lfilter_core_loop'); {pair_fix()}")]
    assert report["imports"]["torchaudio"]["extension"] is None
