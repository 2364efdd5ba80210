"""What `mirplug run task=genre data=audiofolder data.path=DIR` does by default (the task's recorded_defaults)."""

from __future__ import annotations

from mirplug.config import resolve


def test_recordings_get_the_pretrained_probe_and_the_synthetic_default_stays(catalog, tmp_path):
    recorded = resolve(catalog, ["task=genre", "data=audiofolder", f"data.path={tmp_path}"])
    spec = catalog.get("task", "genre")
    assert recorded.backbone.name == spec.recorded_defaults["backbone"] == "musicnn"
    assert recorded.backbone.options["head"] == "probe"
    assert recorded.data.options["max_windows"] == int(spec.recorded_defaults["data.max_windows"])
    synthetic = resolve(catalog, ["task=genre"])
    assert (synthetic.backbone.name, synthetic.representation.name) == ("cnn", "mel")
    assert synthetic.data.options["max_windows"] == 10


def test_a_model_the_user_chose_takes_none_of_the_recorded_defaults(catalog, tmp_path):
    folder = ["task=genre", "data=audiofolder", f"data.path={tmp_path}"]
    for chosen in (["backbone=cnn"], ["backbone.channels=4"], ["representation=mfcc"], ["representation.n_mels=32"]):
        config = resolve(catalog, [*folder, *chosen])
        assert config.backbone.name != "musicnn" and config.data.options["max_windows"] == 10, chosen
    # a user's own window setting wins over the recorded default
    assert resolve(catalog, [*folder, "data.max_windows=10"]).data.options["max_windows"] == 10
    # other tasks keep their defaults on recordings
    key = catalog.get("task", "key").defaults.get("backbone", "cnn")
    assert resolve(catalog, ["task=key", "data=audiofolder", f"data.path={tmp_path}"]).backbone.name == key


def test_augmenters_that_change_the_audio_are_refused_with_a_probe_before_any_work(catalog, tmp_path):
    import pytest

    from mirplug.errors import ConfigError

    with pytest.raises(ConfigError, match="default on recordings is backbone=musicnn backbone.head=probe"):
        resolve(catalog, ["task=genre", "data=audiofolder", f"data.path={tmp_path}", "augmenter=gain"])
    trained = resolve(catalog, ["task=genre", "data=audiofolder", f"data.path={tmp_path}", "augmenter=gain",
                                "backbone=cnn"])
    assert trained.backbone.name == "cnn"
    rows = resolve(catalog, ["task=genre", "data=audiofolder", f"data.path={tmp_path}",
                             "augmenter=embedding_gaussian", "augmenter.per_class=5"])
    assert rows.backbone.options["head"] == "probe"
