"""``mirplug new-plugin``: write a ready-to-install plugin package from the templates in ``mirplug/templates``.

The templates are real files kept as package data: ``templates/plugin/`` (``pyproject.toml``, ``README.md``)
is shared, and ``templates/<kind>/`` holds the hook module ``mirplug_myplugin/__init__.py``, the component
``mirplug_myplugin/component.py`` and ``tests/test_myplugin.py`` of one kind. They are a working plugin
called ``myplugin`` (ruff checks them like any code, and ``tests/test_scaffold.py`` validates each kind), so
rendering is replacing the name ``myplugin`` in paths and text, plus ``$kind``, ``$summary`` and ``$usage`` in
the two shared non-Python files. The package passes ``mirplug validate`` and its own tests unchanged.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from mirplug.errors import MirplugError, choices_text

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
PLACEHOLDER = "myplugin"  # the name of the plugin the templates are; replaced by the new plugin's name
SHARED = "plugin"  # the folder of the files every kind shares

# kind -> (what the scaffolded component does, how a run uses it); the code is in templates/<kind>/
SCAFFOLDS: dict[str, tuple[str, str]] = {
    "representation": ("log energy in equal-width frequency bands",
                       "mirplug run task=genre representation=myplugin"),
    "backbone": ("1-D convolution over time, then mean pooling", "mirplug run task=genre backbone=myplugin"),
    "augmenter": ("random linear fade-in and fade-out", "mirplug run task=genre augmenter=myplugin"),
    "generator": ("noise shaped like each class's average spectrum, with random phase",
                  "mirplug run task=genre augmenter=myplugin augmenter.per_class=5"),
    "task": ("single-label classification with label smoothing", "mirplug run task=myplugin"),
    "dataset": ("sine tones in three pitch classes (low, mid, high), generated offline",
                "mirplug run task=genre data=myplugin"),
    "logger": ("per-epoch losses and the main metric in a CSV file of the run folder",
               "mirplug run task=genre logger=myplugin"),
}
KIND_WORDS = {"generator": "generator augmenter"}  # how the README and pyproject call a kind


def templates() -> Traversable:
    """The ``templates`` folder of the installed mirplug package."""
    return resources.files("mirplug") / "templates"


def _files(folder: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    """``(relative path, file)`` of every file below ``folder`` (bytecode caches left out)."""
    found = []
    for item in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if item.name == "__pycache__" or item.name.endswith(".pyc"):
            continue
        relative = f"{prefix}{item.name}"
        found += _files(item, f"{relative}/") if item.is_dir() else [(relative, item)]
    return found


def new_plugin(name: str, kind: str, parent: Path) -> Path:
    """Write ``parent/mirplug-<name>/`` for a plugin with one ``kind`` component called ``name``."""
    if not NAME_PATTERN.match(name):
        raise MirplugError(f"plugin name '{name}' must start with a lowercase letter and use only a-z, 0-9 and '_'")
    if kind not in SCAFFOLDS:
        raise MirplugError(f"--kind {kind} is not a kind new-plugin can write; choose one of: "
                           f"{choices_text(SCAFFOLDS)}")
    root = parent / f"mirplug-{name}"
    if root.exists():
        raise MirplugError(f"{root} already exists; choose another name or --path")
    summary, usage = SCAFFOLDS[kind]
    values = {"kind": KIND_WORDS.get(kind, kind), "summary": summary, "usage": usage}
    for folder in (SHARED, kind):
        for relative, source in _files(templates() / folder):
            text = source.read_text(encoding="utf-8")
            if not relative.endswith(".py"):
                text = Template(text).substitute(values)
            path = root / relative.replace(PLACEHOLDER, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.replace(PLACEHOLDER, name), encoding="utf-8")
    return root
