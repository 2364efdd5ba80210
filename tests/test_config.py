"""Overrides resolve to a typed config; every bad key or value fails with a clear message."""

from __future__ import annotations

import pytest

from mirplug.config import config_from_dict, parse_overrides, resolve
from mirplug.errors import ConfigError, UnknownComponentError


def test_defaults_come_from_the_task(catalog):
    config = resolve(catalog, ["task=genre"])
    assert (config.data.name, config.representation.name, config.backbone.name) == ("synthetic", "mel", "cnn")
    assert config.augmenters == []
    assert config.train["epochs"] == 30 and config.seed == 0


def test_dotted_keys_are_coerced_to_the_declared_type(catalog):
    config = resolve(catalog, ["train.epochs=5", "train.lr=0.01", "backbone.channels=8", "seed=3",
                               "representation.n_mels=40", "split.test=0.3"])
    assert config.train["epochs"] == 5 and isinstance(config.train["epochs"], int)
    assert config.train["lr"] == 0.01
    assert config.backbone.options["channels"] == 8
    assert config.representation.options["n_mels"] == 40
    assert config.split["test"] == 0.3
    assert config.seed == 3


def test_boolean_values(catalog):
    config = resolve(catalog, ["augmenter=timeshift", "augmenter.rollover=no"])
    assert config.augmenters[0].options["rollover"] is False


def test_several_augmenters_and_per_augmenter_options(catalog):
    config = resolve(catalog, ["augmenter=gain,noise", "augmenter.p=1.0", "augmenter.noise.min_snr_db=20"])
    assert [a.name for a in config.augmenters] == ["gain", "noise"]
    assert [a.options["p"] for a in config.augmenters] == [1.0, 1.0]
    assert config.augmenters[1].options["min_snr_db"] == 20.0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["backbone=nope"], "unknown backbone 'nope'; available backbones: {backbones}"),
        (["backbone=cn"], "unknown backbone 'cn' (did you mean 'cnn'?); available backbones: {backbones}"),
        (["task=genr"], "unknown task 'genr' (did you mean 'genre'?)"),
        (["train.epoch=3"], "unknown key 'train.epoch' (did you mean 'epochs'?); section 'train' accepts: "
                            "batch_size, device, epochs, lr, min_steps, mixup_alpha, patience, precision, processes, "
                            "threads, weight_decay"),
        (["backbone.channel=3"], "unknown key 'backbone.channel' (did you mean 'channels'?); backbone 'cnn' "
                                 "accepts: blocks, channels, dropout"),
        (["sed=1"], "unknown key 'sed' (did you mean 'seed'?)"),
        (["train.epochs=abc"], "train.epochs='abc' is not a valid int"),
        (["train.epochs=1.5"], "train.epochs='1.5' is not a valid int"),
        (["train.lr=fast"], "train.lr='fast' is not a valid float"),
        (["train.epochs=0"], "train.epochs='0' is below the minimum 1"),
        (["split.test=0.9"], "split.test='0.9' is above the maximum 0.5"),
        (["train.device=tpu"], "train.device='tpu' is not allowed; choose one of: auto, cpu, cuda, mps"),
        (["augmenter=timeshift", "augmenter.rollover=maybe"], "augmenter.rollover='maybe' is not a valid bool"),
        (["augmenter.p=0.5"], "no augmenter is chosen; add augmenter=NAME"),
        (["augmenter=gain", "augmenter.noise.p=1"], "names augmenter 'noise', which is not chosen; chosen: gain"),
        (["augmenter=gain", "augmenter.min_snr_db=1"], "unknown key 'augmenter.min_snr_db'"),
        (["augmenter=gain,gain"], "augmenter=gain,gain names an augmenter twice"),
        (["epochs"], "override 'epochs' is not of the form key=value"),
        (["train=5"], "key 'train' needs an option name, e.g. train.<option>=..."),
    ],
)
def test_bad_overrides_fail_with_a_clear_message(catalog, overrides, message):
    with pytest.raises(ConfigError) as error:
        resolve(catalog, overrides)
    # every installed backbone is listed (distributions such as mirplug-pretrained add theirs)
    assert message.replace("{backbones}", ", ".join(sorted(catalog.names("backbone")))) in str(error.value)
    assert "\n" not in str(error.value)


def test_unknown_component_is_its_own_error_type(catalog):
    with pytest.raises(UnknownComponentError):
        resolve(catalog, ["representation=cqtt"])


def test_parse_overrides_keeps_everything_after_the_first_equals():
    assert parse_overrides(["data.path=a=b", " seed = 2 "]) == [("data.path", "a=b"), ("seed", "2")]


def test_a_saved_config_resolves_to_the_same_config(catalog):
    config = resolve(catalog, ["augmenter=gain,specaugment", "augmenter.gain.p=0.7", "train.epochs=4",
                               "backbone=mlp", "backbone.hidden=64", "representation=mfcc", "seed=9"])
    again = resolve(catalog, config_from_dict(config.to_dict()))
    assert again.to_dict() == config.to_dict()
    assert resolve(catalog, config.overrides()).to_dict() == config.to_dict()
