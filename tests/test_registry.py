"""registry.yaml: the schema, sorted by name, unique names; and how the installer reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mirplug.errors import MirplugError
from mirplug.installer import REGISTRY_FIELDS, load_registry, parse_registry, registry_path, resolve_target

REGISTRY = Path(__file__).resolve().parent.parent / "registry.yaml"


def test_registry_is_the_repository_file() -> None:
    assert registry_path() == REGISTRY


def test_registry_schema_sorted_unique() -> None:
    data = yaml.safe_load(REGISTRY.read_text())
    assert isinstance(data, list) and data
    for item in data:
        assert tuple(item) == REGISTRY_FIELDS, item
        assert all(isinstance(item[key], str) and item[key] for key in REGISTRY_FIELDS if key != "kinds")
        assert item["homepage"].startswith("https://")
    names = [item["name"] for item in data]
    assert names == sorted(names)
    assert len(names) == len(set(names))
    entries = parse_registry(data, str(REGISTRY))
    assert [e.name for e in entries] == names


def test_registry_lists_the_builtin_groups_and_essentia() -> None:
    registry = load_registry()
    for group, kind in [("augmenters", "augmenter"), ("backbones", "backbone"), ("datasets", "dataset"),
                        ("representations", "representation"), ("tasks", "task")]:
        assert (registry[group].requirement, registry[group].kinds) == ("mirplug", (kind,))
    essentia = registry["essentia"]
    assert (essentia.requirement, essentia.license) == ("./plugins/mirplug-essentia", "AGPL-3.0")


def test_parse_registry_rejects_bad_files() -> None:
    good = {"name": "b", "requirement": "mirplug-b", "kinds": ["task"], "summary": "s", "homepage": "https://x",
            "license": "MIT"}
    with pytest.raises(MirplugError, match="entries must be sorted by name"):
        parse_registry([good, {**good, "name": "a"}], "r.yaml")
    with pytest.raises(MirplugError, match="duplicate names b"):
        parse_registry([good, good], "r.yaml")
    with pytest.raises(MirplugError, match=r"entry 1 \(b\): missing keys \['license'\], unknown keys \['licence'\]"):
        parse_registry([{**{k: v for k, v in good.items() if k != "license"}, "licence": "MIT"}], "r.yaml")
    with pytest.raises(MirplugError, match="'kinds' must be a non-empty list of representation"):
        parse_registry([{**good, "kinds": ["feature"]}], "r.yaml")
    with pytest.raises(MirplugError, match="r.yaml: the registry must be a YAML list of plugins"):
        parse_registry({"b": good}, "r.yaml")


def test_install_targets_resolve_registry_then_path_then_requirement(tmp_path: Path) -> None:
    registry = load_registry()
    essentia = resolve_target("essentia", registry)
    assert (essentia.source, essentia.name) == ("registry", "mirplug-essentia")
    assert essentia.requirement == str(Path(__file__).resolve().parent.parent / "plugins" / "mirplug-essentia")
    assert resolve_target("essentia", registry).source == "registry"
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "pyproject.toml").write_text('[project]\nname = "mirplug-pkg"\n')
    target = resolve_target(str(tmp_path / "pkg"), registry)
    assert (target.source, target.name, target.requirement) == ("path", "mirplug-pkg", str(tmp_path / "pkg"))
    target = resolve_target("mirplug-other>=1.0", registry)
    assert (target.source, target.name) == ("requirement", "mirplug-other")
