"""Meta-tests: every hook spec is tested somewhere and documented with an example."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from mirplug import hookspecs
from mirplug.plugins import hook_names

TESTS = Path(__file__).parent
SPECS = hook_names()


def test_the_hook_list_is_what_mirplug_documents() -> None:
    assert SPECS == sorted(["mirplug_register_augmenters", "mirplug_register_backbones", "mirplug_register_commands",
                            "mirplug_register_datasets", "mirplug_register_loggers", "mirplug_register_representations",
                            "mirplug_register_tasks", "mirplug_run_start", "mirplug_epoch_end",
                            "mirplug_evaluation_end", "mirplug_run_metrics", "mirplug_run_end"])
    for name in SPECS:
        assert getattr(hookspecs, name).mirplug_spec is not None  # pluggy's hookspec marker


@pytest.mark.parametrize("name", SPECS)
def test_every_hookspec_has_a_test(name: str) -> None:
    mentioned = [p.name for p in sorted(TESTS.glob("test_*.py")) if p.name != Path(__file__).name
                 and name in p.read_text()]
    assert mentioned, f"no test file (other than this one) mentions the hook {name}"


@pytest.mark.parametrize("name", SPECS)
def test_every_hookspec_is_documented_with_an_example(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert "Example" in doc, f"{name} has no example in its docstring"
    assert "@hookimpl" in doc and f"def {name}(" in doc, f"{name}'s example does not implement the hook"
