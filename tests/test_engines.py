"""``engine=`` keys: checked before any work, kept out of the run config; Ray missing is one line."""

from __future__ import annotations

import builtins
import sys
from pathlib import Path

import pytest

from mirplug.engines import EngineSettings, split_engine
from mirplug.errors import ConfigError


def test_engine_keys_are_taken_out_of_the_overrides_in_order() -> None:
    settings, rest = split_engine(["task=genre", "engine=ray", "seed=0,1", "engine.workers=2",
                                   "engine.cpus_per_run=0.5", "engine.address=auto"])
    assert settings == EngineSettings(name="ray", address="auto", workers=2, cpus_per_run=0.5)
    assert rest == ["task=genre", "seed=0,1"]
    assert split_engine(["task=genre"]) == (EngineSettings(), ["task=genre"])


@pytest.mark.parametrize(("overrides", "message"), [
    (["engine=rays"], "engine=rays is not an engine (did you mean 'ray'?)"),
    (["engine=ray", "engine.worker=2"], "unknown key 'engine.worker' (did you mean 'workers'?)"),
    (["engine.workers=2"], "engine.workers is a setting of engine=ray; add engine=ray"),
    (["engine=ray", "engine.workers=-1"], "engine.workers"),
    (["engine=ray", "engine.address=somewhere"], "engine.address=somewhere: give auto"),
])
def test_bad_engine_keys_are_one_error_naming_the_key(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        split_engine(overrides)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_engine_ray_without_ray_installed_is_one_line_and_nothing_else_changes(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mirplug.cli import main

    real_import = builtins.__import__

    def no_ray(name: str, *args: object, **kwargs: object) -> object:
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"No module named '{name}'")
        return real_import(name, *args, **kwargs)

    for name in [n for n in sys.modules if n == "ray" or n.startswith("ray.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(SystemExit) as exited:
        main(["sweep", "task=genre", "seed=0,1", "engine=ray", "--out", str(tmp_path)])
    error = capsys.readouterr().err
    assert exited.value.code == 2 and error.count("\n") == 1
    assert error.startswith("error: engine=ray needs Ray, which cannot be imported here")
    assert "pip install 'mirplug[ray]'" in error and not list(tmp_path.iterdir())  # before any work
    from mirplug.engines import ray_engine

    with pytest.raises(ConfigError, match="engine=ray needs Ray"):
        ray_engine.check_ray()
