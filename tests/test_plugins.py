"""Plugins register through hooks; a fake plugin's backbone is used by a real run."""

from __future__ import annotations

from importlib import metadata

import pytest
import torch
from conftest import TINY
from torch import nn

from mirplug.catalog import Catalog
from mirplug.components import Backbone
from mirplug.config import resolve
from mirplug.errors import UnknownComponentError
from mirplug.hookspecs import hookimpl
from mirplug.plugins import load_plugins
from mirplug.runner import run
from mirplug.specs import BackboneSpec, Option

CALLS = {"forward": 0}


class MeanBackbone(Backbone):
    """Averages features over time, then one linear layer."""

    def __init__(self, input_shape, frame_rate=None, width=8):
        super().__init__()
        self.linear = nn.Linear(input_shape[0], width)
        self.embedding_dim = width

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        CALLS["forward"] += 1
        return self.linear(features.mean(dim=2))


class FakePlugin:
    @hookimpl
    def mirplug_register_backbones(self):
        return [BackboneSpec(name="meanpool", summary="test backbone", factory=MeanBackbone,
                             options=(Option(name="width", type=int, default=8),))]


def test_builtins_load_through_entry_points():
    host = load_plugins()
    assert {"representations", "backbones", "augmenters", "tasks", "datasets"} <= set(host.plugins)
    assert all(host.plugins[name].distribution == "mirplug" for name in ("backbones", "tasks"))
    assert host.failures == []


def test_a_fake_plugin_adds_a_backbone_that_run_uses(tmp_path):
    host = load_plugins()
    assert host.register(FakePlugin(), "fake")
    catalog = Catalog.from_host(host)
    assert catalog.plugin_of("backbone", "meanpool") == "fake"
    config = resolve(catalog, [*TINY, "backbone=meanpool", "backbone.width=5", f"out={tmp_path}"])
    CALLS["forward"] = 0
    result = run(config, catalog)
    assert CALLS["forward"] > 0
    assert result.metrics["n_train"] > 0
    assert "backbone:\n  name: meanpool\n  width: 5\n" in (result.folder / "config.yaml").read_text()


def test_the_catalog_suggests_the_closest_name():
    catalog = Catalog.from_host(load_plugins())
    with pytest.raises(UnknownComponentError, match=r"unknown representation 'mell' \(did you mean 'mel'\?\)"):
        catalog.get("representation", "mell")


def test_an_entry_point_that_fails_to_import_is_reported_not_fatal():
    broken = metadata.EntryPoint(name="broken", value="mirplug_no_such_module", group="mirplug")
    good = [ep for ep in metadata.entry_points(group="mirplug")]
    host = load_plugins([broken, *good])
    assert [(f.name, f.stage) for f in host.failures] == [("broken", "import")]
    assert "ModuleNotFoundError" in host.failures[0].error
    assert "backbones" in host.plugins
