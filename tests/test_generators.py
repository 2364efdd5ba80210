"""Generators ``vae`` and ``gan``: training, seeded sampling, checkpoints and their refusals."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from mirplug.catalog import load_catalog
from mirplug.components import Generator
from mirplug.errors import ConfigError, DataError
from mirplug_builtin.datasets.synth import generate_clip

SAMPLE_RATE = 16000
NAMES = ["rock", "jazz"]
KINDS = ("vae", "gan")
# Few steps keep the file fast; enough for the monitored loss to fall from its start.
LEARNING_STEPS = {"vae": 40, "gan": 12}


def _data(clips_per_class: int = 4, seconds: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Real synthetic-music clips of two styles (rock = style 0, jazz = style 2)."""
    waves, labels = [], []
    for label, style in enumerate((0, 2)):
        for index in range(clips_per_class):
            samples, _ = generate_clip(style, seed=0, index=index, seconds=seconds, sample_rate=SAMPLE_RATE)
            waves.append(samples[: int(seconds * SAMPLE_RATE)])
            labels.append(label)
    return torch.tensor(np.stack(waves)), torch.tensor(labels)


def _build(kind: str, **options) -> Generator:
    spec = load_catalog().get("augmenter", kind)
    return spec.build({**spec.option_defaults(), **options})


@pytest.fixture(scope="module")
def fitted() -> dict[str, Generator]:
    """One generator of each kind, fitted briefly on the tiny data."""
    waves, labels = _data()
    generators = {}
    for kind in KINDS:
        generator = _build(kind, steps=3, per_class=2)
        generator.fit(waves, labels, NAMES, SAMPLE_RATE, seed=0)
        generators[kind] = generator
    return generators


def test_registered_as_generators():
    catalog = load_catalog()
    for kind in KINDS:
        spec = catalog.get("augmenter", kind)
        assert spec.stage == "generator"
        assert {o.name for o in spec.options} == {"per_class", "balance", "steps", "latent_dim", "lr", "batch_size",
                                                  "checkpoint", "min_clips_per_class", "filter_confidence", "cache"}
        built = spec.build(spec.option_defaults())
        assert isinstance(built, Generator) and built.architecture == kind
        # The class defaults equal the registered ones, so a loaded checkpoint trains alike.
        assert built.options == {**spec.option_defaults(), "checkpoint": ""}


@pytest.mark.parametrize("kind", KINDS)
def test_loss_goes_down(kind):
    waves, labels = _data()
    generator = _build(kind, steps=LEARNING_STEPS[kind])
    seen: list[int] = []
    summary = generator.fit(waves, labels, NAMES, SAMPLE_RATE, seed=0,
                            progress=lambda step, steps, losses: seen.append(step))
    history = summary["history"][generator.monitored_loss]
    assert summary["steps"] == LEARNING_STEPS[kind] == len(history)
    assert seen == list(range(1, LEARNING_STEPS[kind] + 1))
    assert np.mean(history[-3:]) < np.mean(history[:3])
    assert summary["final_losses"][generator.monitored_loss] == history[-1]


@pytest.mark.parametrize("kind", KINDS)
def test_sampling_is_seeded_and_shaped(fitted, kind):
    generator = fitted[kind]
    waves, labels = generator.sample({0: 2, 1: 3}, seed=5)
    again, labels_again = generator.sample({0: 2, 1: 3}, seed=5)
    other, _ = generator.sample({0: 2, 1: 3}, seed=6)
    assert waves.shape == (5, SAMPLE_RATE) and waves.dtype == torch.float32
    assert labels.tolist() == [0, 0, 1, 1, 1] and torch.equal(labels, labels_again)
    assert torch.isfinite(waves).all() and 0 < waves.abs().max() <= 0.99 + 1e-6
    assert torch.equal(waves, again)
    assert not torch.allclose(waves, other)
    empty, no_labels = generator.sample({0: 0}, seed=1)
    assert empty.shape == (0, SAMPLE_RATE) and no_labels.numel() == 0
    with pytest.raises(ConfigError, match="no class 2"):
        generator.sample({2: 1}, seed=1)


def test_plan_counts_per_class_and_balance(fitted):
    labels = torch.tensor([0] * 6 + [1] * 2)
    assert fitted["vae"].plan_counts(labels) == {0: 2, 1: 2}  # per_class=2
    balanced = _build("vae", balance=True)
    balanced.label_names = NAMES
    assert balanced.plan_counts(labels) == {0: 0, 1: 4}
    both = _build("vae", balance=True, per_class=1)
    both.label_names = NAMES
    assert both.plan_counts(labels) == {0: 1, 1: 5}
    # Sampling the plan gives exactly the planned labels.
    waves, sampled = fitted["gan"].sample(balanced.plan_counts(labels), seed=0)
    assert sampled.tolist() == [1, 1, 1, 1] and waves.shape == (4, SAMPLE_RATE)


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(fitted, kind, tmp_path):
    generator = fitted[kind]
    folder = generator.save(tmp_path / "gen")
    config = json.loads((folder / "generator.json").read_text())
    digest = hashlib.sha256((folder / "generator.safetensors").read_bytes()).hexdigest()
    assert config["sha256"] == digest == generator.checkpoint_hash
    assert config["architecture"] == kind and config["label_names"] == NAMES
    assert config["sample_rate"] == SAMPLE_RATE and config["clip_samples"] == SAMPLE_RATE
    assert config["representation"]["n_mels"] == 64 and config["training"]["steps"] == 3
    loaded = Generator.load(folder, NAMES, SAMPLE_RATE, clip_samples=SAMPLE_RATE, options={"per_class": 7})
    assert type(loaded) is type(generator) and loaded.checkpoint_hash == digest
    assert loaded.options["per_class"] == 7 and loaded.options["steps"] == 3
    original, labels = generator.sample({0: 1, 1: 2}, seed=3)
    restored, labels_restored = loaded.sample({0: 1, 1: 2}, seed=3)
    assert torch.equal(original, restored) and torch.equal(labels, labels_restored)


def test_load_refuses_mismatches(fitted, tmp_path):
    folder = fitted["vae"].save(tmp_path / "gen")
    with pytest.raises(ConfigError) as error:
        Generator.load(folder, ["rock", "pop"], SAMPLE_RATE)
    assert "['rock', 'jazz']" in str(error.value) and "['rock', 'pop']" in str(error.value)
    with pytest.raises(ConfigError, match="sample rate 16000 Hz differs from this run's 22050 Hz"):
        Generator.load(folder, NAMES, 22050)
    with pytest.raises(ConfigError, match="clip length 16000 samples differs from this run's 48000 samples"):
        Generator.load(folder, NAMES, SAMPLE_RATE, clip_samples=48000)
    from mirplug_builtin.augmenters.gan import GANGenerator

    with pytest.raises(ConfigError, match="not a GANGenerator"):
        GANGenerator.load(folder, NAMES, SAMPLE_RATE)
    config_path = folder / "generator.json"
    config = json.loads(config_path.read_text())
    config["representation"]["n_mels"] = 128
    config_path.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="representation .*'n_mels': 128.* differs from the expected .*'n_mels': 64"):
        Generator.load(folder, NAMES, SAMPLE_RATE)
    weights = folder / "generator.safetensors"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ConfigError, match="sha256 .* differs from the recorded"):
        Generator.load(folder, NAMES, SAMPLE_RATE)
    with pytest.raises(ConfigError, match="generator.json is missing"):
        Generator.load(tmp_path / "nowhere", NAMES, SAMPLE_RATE)


def test_too_few_clips_refused():
    waves, labels = _data()
    keep = torch.cat([torch.arange(4), torch.tensor([4, 5])])  # jazz keeps 2 clips
    generator = _build("vae", steps=1, min_clips_per_class=3)
    with pytest.raises(DataError, match=r"class 'jazz' has 2 training clips, fewer than the minimum 3"):
        generator.fit(waves[keep], labels[keep], NAMES, SAMPLE_RATE)
    assert not generator.fitted
    with pytest.raises(ConfigError, match="call fit\\(\\) or load\\(\\) before sample"):
        generator.sample({0: 1}, seed=0)


def test_too_short_clips_refused():
    waves, labels = _data()
    with pytest.raises(DataError, match="training clips of 512 samples are shorter than the 1024-sample FFT"):
        generator = _build("gan", steps=1)
        generator.fit(waves[:, :512], labels, NAMES, SAMPLE_RATE)
    assert not generator.fitted


def test_nan_input_refused():
    waves, labels = _data()
    waves[3, 100] = float("nan")
    with pytest.raises(DataError, match="training clip 3 has NaN or inf samples"):
        _build("vae", steps=1).fit(waves, labels, NAMES, SAMPLE_RATE)


def test_divergence_stops_with_step_and_keeps_good_weights(tmp_path):
    waves, labels = _data()
    generator = _build("vae", steps=20, lr=1e30)
    with pytest.raises(DataError) as error:
        generator.fit(waves, labels, NAMES, SAMPLE_RATE, seed=0, save_folder=tmp_path / "last-good")
    assert str(error.value) == (
        "generator vae: training diverged (NaN/inf loss) at step 2 of 20; lower augmenter.lr (now 1e+30); "
        f"the last good weights (evaluated at step 1) were saved to {tmp_path / 'last-good'}")
    assert generator.summary["steps"] == 1 == len(generator.summary["history"]["loss"])
    assert generator.summary["stopped"] == "non-finite loss at step 2"
    # The kept weights are the ones that last gave a finite loss: sampling from them is finite.
    synthetic, _ = generator.sample({0: 1, 1: 1}, seed=0)
    assert torch.isfinite(synthetic).all()
    loaded = Generator.load(tmp_path / "last-good", NAMES, SAMPLE_RATE)
    assert torch.equal(loaded.sample({0: 1, 1: 1}, seed=0)[0], synthetic)
    assert json.loads((tmp_path / "last-good" / "generator.json").read_text())["training"]["steps"] == 1


def test_divergence_at_the_first_step_keeps_the_initial_weights(tmp_path):
    # The GAN takes several critic updates inside step 1, so lr=1e30 breaks it at once.
    waves, labels = _data()
    generator = _build("gan", steps=20, lr=1e30)
    with pytest.raises(DataError) as error:
        generator.fit(waves, labels, NAMES, SAMPLE_RATE, seed=0, save_folder=tmp_path / "last-good")
    assert generator.fitted  # with its initial weights, as the message says
    assert str(error.value) == (
        "generator gan: training diverged (NaN/inf loss) at step 1 of 20; lower augmenter.lr (now 1e+30); "
        "no step had a finite loss, so the initial weights are kept and nothing was saved")
    assert generator.summary["steps"] == 0 and not (tmp_path / "last-good").exists()
    assert all(torch.isfinite(p).all() for net in generator.networks.values() for p in net.parameters())


def test_fit_or_load_fits_then_reuses_the_checkpoint(tmp_path):
    waves, labels = _data()
    first = _build("vae", steps=2, per_class=1)
    fitted_generator = first.fit_or_load(waves, labels, NAMES, SAMPLE_RATE, seed=0, folder=tmp_path / "run1")
    assert fitted_generator is first and (tmp_path / "run1" / "generator.safetensors").is_file()
    reuse = _build("vae", per_class=4, checkpoint=str(tmp_path / "run1"))
    loaded = reuse.fit_or_load(waves, labels, NAMES, SAMPLE_RATE, seed=1, folder=tmp_path / "run2")
    assert loaded is not reuse and loaded.checkpoint_hash == first.checkpoint_hash
    assert loaded.options["per_class"] == 4 and loaded.options["steps"] == 2  # sampling options from this run
    assert torch.equal(loaded.sample({0: 1, 1: 1}, seed=2)[0], first.sample({0: 1, 1: 1}, seed=2)[0])
    assert (tmp_path / "run2" / "generator.json").is_file()
    with pytest.raises(ConfigError, match="clip length 16000 samples differs from this run's 8000 samples"):
        reuse.fit_or_load(waves[:, :8000], labels, NAMES, SAMPLE_RATE, seed=1, folder=tmp_path / "run3")


def test_fitting_runs_on_one_thread_and_restores_the_setting():
    waves, labels = _data()
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    seen: list[int] = []
    try:
        _build("vae", steps=2).fit(waves, labels, NAMES, SAMPLE_RATE,
                                   progress=lambda step, steps, losses: seen.append(torch.get_num_threads()))
        assert seen == [1, 1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


def test_a_fitted_generator_is_cached_by_its_inputs_and_fitting_options(tmp_path, monkeypatch):
    monkeypatch.setenv("MIRPLUG_CACHE_DIR", str(tmp_path / "cache"))
    waves, labels = _data()
    first = _build("vae", steps=2, per_class=1)
    first.fit_or_load(waves, labels, NAMES, SAMPLE_RATE, seed=0, folder=tmp_path / "run1")
    (entry,) = [p for p in (tmp_path / "cache" / "generators").iterdir() if p.is_dir()]
    # another sampling option: the same fit, loaded from the cache
    again = _build("vae", steps=2, per_class=3, filter_confidence=0.5)
    reused = again.fit_or_load(waves, labels, NAMES, SAMPLE_RATE, seed=0, folder=tmp_path / "run2")
    assert reused is not again and reused.checkpoint_hash == first.checkpoint_hash
    assert reused.summary["reused_from_cache"] == str(entry) and reused.options["per_class"] == 3
    assert torch.equal(reused.sample({0: 1, 1: 1}, seed=4)[0], first.sample({0: 1, 1: 1}, seed=4)[0])
    # another seed, fitting option or training set: a new fit
    for changed, seed, data in ((_build("vae", steps=2), 1, waves), (_build("vae", steps=3), 0, waves),
                                (_build("vae", steps=2), 0, waves.flip(0))):
        result = changed.fit_or_load(data, labels, NAMES, SAMPLE_RATE, seed=seed, folder=tmp_path / "other")
        assert result is changed and "reused_from_cache" not in result.summary
    assert len([p for p in (tmp_path / "cache" / "generators").iterdir() if p.is_dir()]) == 4  # and their locks
    # a damaged entry is refitted, and augmenter.cache=false neither reads nor writes the cache
    (entry / "generator.safetensors").write_bytes(b"garbage")
    refit = _build("vae", steps=2, per_class=1)
    assert refit.fit_or_load(waves, labels, NAMES, SAMPLE_RATE, seed=0, folder=tmp_path / "run3") is refit
    assert refit.checkpoint_hash == first.checkpoint_hash  # the same seeded fit, stored again
    off = _build("vae", steps=2, cache=False)
    assert off.cache_folder(waves, labels, NAMES, SAMPLE_RATE, 0) is None
    assert off.fit_or_load(waves, labels, NAMES, SAMPLE_RATE, seed=0, folder=tmp_path / "run4") is off
