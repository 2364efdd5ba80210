"""``mirplug doctor``: what to paste into a bug report, and whether the environment can run mirplug.

Like ``transformers env``: versions (Python, mirplug, the libraries it runs on, every plugin), whether torch
and torchaudio load (torchaudio's compiled extension included) and are the pair mirplug declares, the cache
folder, threads and accelerators. Exit code 0 when everything works, 1 with one line per problem and its
fix otherwise. Every probe catches its own failure: this command exists for environments where imports fail.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

PACKAGES = ("torch", "torchaudio", "transformers", "datasets", "huggingface-hub", "numpy", "soundfile",
            "essentia")
NOT_INSTALLED = "not installed"


def _failed(exc: BaseException) -> str:
    from mirplug.environment import error_line

    return error_line(exc)


def _python() -> dict[str, str]:
    return {"version": platform.python_version(), "implementation": platform.python_implementation(),
            "executable": sys.executable, "platform": platform.platform()}


def _torchaudio_extension() -> str:
    """Call into torchaudio the way mirplug does and into its compiled extension; raises on a broken build."""
    import torch
    import torchaudio

    filters = torchaudio.functional.melscale_fbanks(257, 0.0, 8000.0, 64, 16000, norm="slaney",
                                                    mel_scale="slaney")
    if tuple(filters.shape) != (257, 64) or not bool(torch.isfinite(filters).all()):
        raise RuntimeError(f"melscale_fbanks returned {tuple(filters.shape)} or non-finite values")
    if not getattr(torchaudio._extension, "_IS_TORCHAUDIO_EXT_AVAILABLE", False):
        return "imports; compiled extension not found (pure-Python fallbacks)"
    # lfilter's core loop is a compiled op registered by libtorchaudio: resolving and running it fails on a
    # build that does not match torch's ABI
    torch.ops.torchaudio._lfilter_core_loop  # noqa: B018
    impulse = torch.zeros(1, 4)
    impulse[0, 0] = 1.0
    response = torchaudio.functional.lfilter(impulse, torch.tensor([1.0, -0.5]), torch.tensor([1.0, 0.0]),
                                             clamp=False)
    expected = torch.tensor([[1.0, 0.5, 0.25, 0.125]])
    if not torch.allclose(response, expected):
        raise RuntimeError(f"lfilter returned {response.tolist()}, expected {expected.tolist()}")
    return "imports; compiled extension loads (lfilter runs)"


def _imports(problems: list[str]) -> dict[str, dict[str, Any]]:
    """Import every compiled dependency; torchaudio's extension too. Appends a line per failure."""
    from mirplug.environment import check_compiled, pair_fix
    from mirplug.environment import problems as problem_lines

    checks = check_compiled()
    problems.extend(problem_lines(checks))
    found: dict[str, dict[str, Any]] = {
        c.distribution: {"version": c.version, "imports": c.ok, "error": c.error} for c in checks}
    torchaudio = found["torchaudio"]
    if torchaudio["imports"]:
        try:
            torchaudio["extension"] = _torchaudio_extension()
        except Exception as exc:
            torchaudio["extension"] = None
            torchaudio["error"] = _failed(exc)
            problems.append(f"torchaudio {torchaudio['version']} imports but fails when called "
                            f"({torchaudio['error']}); {pair_fix()}")
    return found


def _pair(problems: list[str]) -> dict[str, Any]:
    from mirplug.environment import declared_pins, pair_mismatch

    pins = declared_pins()
    mismatch = pair_mismatch()
    if mismatch is not None:
        problems.append(mismatch)
    return {"torch": pins.get("torch"), "torchaudio": pins.get("torchaudio"), "matches": mismatch is None}


def _plugins(problems: list[str]) -> dict[str, list[dict[str, Any]]]:
    from mirplug.plugins import load_plugins

    host = load_plugins()
    loaded = [{"name": p.name, "distribution": p.distribution, "version": p.version, "builtin": p.builtin}
              for p in host.plugins.values()]
    failed = [{"name": f.name, "distribution": f.distribution, "version": f.version, "stage": f.stage,
               "error": f.error} for f in host.failures]
    for failure in host.failures:
        problems.append(f"{failure.line()}; reinstall it (pip install --force-reinstall "
                        f"{failure.distribution}) or remove it (mirplug uninstall {failure.distribution})")
    return {"loaded": loaded, "failed": failed}


def _folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass  # removed while walking
    return total


def _cache() -> dict[str, Any]:
    from mirplug.paths import cache_dir

    folder = cache_dir()
    exists = folder.is_dir()
    return {"folder": str(folder), "exists": exists, "bytes": _folder_bytes(folder) if exists else 0}


def _compute(torch_imports: bool) -> dict[str, Any]:
    affinity = getattr(os, "sched_getaffinity", None)
    found: dict[str, Any] = {"cpu_count": os.cpu_count(),
                             "usable_cpus": len(affinity(0)) if affinity else None,
                             "torch_threads": None, "cuda": None, "mps": None, "devices": []}
    if not torch_imports:
        return found
    import torch

    found["torch_threads"] = torch.get_num_threads()
    found["cuda"] = bool(torch.cuda.is_available())
    if found["cuda"]:
        found["devices"] = [torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    found["mps"] = bool(mps is not None and mps.is_available())
    if found["mps"]:
        found["devices"].append("mps")
    return found


def _probe(name: str, probe: Any, report: dict[str, Any], problems: list[str]) -> None:
    """Run one probe into ``report[name]``; a probe that raises becomes its error, never a crash."""
    try:
        report[name] = probe()
    except Exception as exc:
        report[name] = {"error": _failed(exc)}
        problems.append(f"doctor could not check {name}: {report[name]['error']}")


def collect() -> dict[str, Any]:
    """Everything ``mirplug doctor`` reports, as JSON-ready values; ``problems`` has one line per problem."""
    from mirplug.cli.common import version_text
    from mirplug.environment import installed_version

    problems: list[str] = []
    report: dict[str, Any] = {"python": _python(), "mirplug": version_text().split()[-1],
                              "packages": {name: installed_version(name) for name in PACKAGES}}
    _probe("imports", lambda: _imports(problems), report, problems)
    imports = report["imports"]
    # a pair that does not load has its line already (versions and fix); a mismatch line would repeat it
    pair_loads = all(imports.get(name, {}).get("imports") and imports[name].get("extension", "") is not None
                     for name in ("torch", "torchaudio"))
    _probe("pair", lambda: _pair(problems if pair_loads else []), report, problems)
    _probe("plugins", lambda: _plugins(problems), report, problems)
    _probe("cache", _cache, report, problems)
    torch_imports = bool(imports.get("torch", {}).get("imports"))
    _probe("compute", lambda: _compute(torch_imports), report, problems)
    report["problems"] = problems
    return report


def _size(n_bytes: int) -> str:
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"  # pragma: no cover


def _rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The table's rows (what, value); a section whose probe failed shows its error."""
    python = report["python"]
    rows = [("python", f"{python['version']} ({python['implementation']}) {python['executable']}"),
            ("platform", python["platform"]), ("mirplug", report["mirplug"])]
    rows += [(name, version or NOT_INSTALLED) for name, version in report["packages"].items()]
    imports = report["imports"]
    if "error" in imports and len(imports) == 1:
        rows.append(("imports", f"error: {imports['error']}"))
    else:
        for name, check in imports.items():
            if not check["imports"]:
                state = f"fails: {check['error']}"
            elif "extension" in check and check["extension"] is None:
                state = f"imports; fails when called: {check['error']}"
            else:
                state = check.get("extension") or "imports"
            rows.append((f"import {name}", state))
    pair = report["pair"]
    if "matches" in pair:
        declared = f"torch=={pair['torch']}, torchaudio=={pair['torchaudio']}"
        rows.append(("declared pair", f"{declared} ({'installed' if pair['matches'] else 'NOT installed'})"))
    else:
        rows.append(("declared pair", f"error: {pair['error']}"))
    plugins = report["plugins"]
    if "loaded" in plugins:
        for plugin in plugins["loaded"]:
            rows.append((f"plugin {plugin['name']}", f"{plugin['distribution']} {plugin['version']}"))
        for plugin in plugins["failed"]:
            where = f"{plugin['distribution']} {plugin['version']} ({plugin['stage']})"
            rows.append((f"plugin {plugin['name']}", f"FAILED {where}: {plugin['error']}"))
    else:
        rows.append(("plugins", f"error: {plugins['error']}"))
    cache = report["cache"]
    if "folder" in cache:
        size = _size(cache["bytes"]) if cache["exists"] else "absent"
        rows.append(("cache folder", f"{cache['folder']} ({size})"))
    else:
        rows.append(("cache folder", f"error: {cache['error']}"))
    compute = report["compute"]
    if "cpu_count" in compute:
        cpus, usable, threads = compute["cpu_count"], compute["usable_cpus"], compute["torch_threads"]
        rows.append(("cpus", f"{cpus} ({usable} usable), torch threads {threads}"))
        accelerators = [name for name in ("cuda", "mps") if compute[name]]
        if accelerators:
            accelerator = f"{', '.join(accelerators)}: {', '.join(compute['devices'])}"
        else:
            torch_unknown = compute["cuda"] is None
            accelerator = "unknown (torch does not import)" if torch_unknown else "none (CPU only)"
        rows.append(("accelerator", accelerator))
    else:
        rows.append(("cpus", f"error: {compute['error']}"))
    return rows


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("doctor")
    def doctor_command(
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Check the environment and show versions, plugins, cache and devices (paste it into bug reports)."""
        report = collect()
        if as_json:
            typer.echo(json.dumps(report, indent=2))
        else:
            from rich.console import Console
            from rich.table import Table
            from rich.text import Text

            table = Table(title="mirplug doctor", title_justify="left")
            table.add_column("what", style="bold", no_wrap=True)
            table.add_column("value", overflow="fold")
            for what, value in _rows(report):
                table.add_row(Text(what), Text(value))  # Text: an error's [brackets] are not markup
            console = Console(width=160)
            console.print(table, highlight=False)
            for line in report["problems"]:
                console.print(f"problem: {line}", highlight=False, markup=False, soft_wrap=True)
            if not report["problems"]:
                console.print("no problems found", highlight=False)
        if report["problems"]:
            raise typer.Exit(1)
