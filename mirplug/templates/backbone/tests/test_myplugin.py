"""The backbone 'myplugin' passes mirplug's contract checks (the same as `mirplug validate myplugin`)."""

from mirplug.testing import assert_component_passes, assert_plugin_passes


def test_the_component_keeps_its_contract() -> None:
    # 'myplugin:myplugin' is plugin:component, so a clash with another plugin cannot pick the wrong one
    results = assert_component_passes("backbone", "myplugin:myplugin")
    assert all(result.status == "pass" for result in results)


def test_the_whole_plugin_validates() -> None:
    assert_plugin_passes("myplugin")
