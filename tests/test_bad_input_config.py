"""Bad input, refused up front in one line (issue 16): values, run names, --config files, predict, components,
generators with nothing to generate, requirements for pip, and text that rich would take for markup.

Each test is one case a new user ran into; the name says what mirplug does instead of crashing later or
silently doing something else.
"""

from __future__ import annotations

import io
import json
import math
import shutil
from contextlib import redirect_stderr
from pathlib import Path

import pytest
import torch
from conftest import SMALL_CNN, TINY, tone, write_audio

from mirplug.catalog import Catalog
from mirplug.components import Representation
from mirplug.config import resolve
from mirplug.errors import ConfigError, DataError
from mirplug.hookspecs import hookimpl
from mirplug.plugins import load_plugins
from mirplug.specs import Option, RepresentationSpec


def refusal(catalog, *overrides: str) -> str:
    """The one-line message ``resolve`` refuses ``overrides`` with."""
    with pytest.raises(ConfigError) as error:
        resolve(catalog, list(overrides))
    assert "\n" not in str(error.value)
    return str(error.value)


def mirplug_main(*args: str) -> tuple[int, str]:
    """``mirplug args`` in this process, as the console script runs it: exit code and stderr."""
    from mirplug.cli import main

    stderr = io.StringIO()
    code = 0
    with redirect_stderr(stderr):
        try:
            main(list(args))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return code, stderr.getvalue()


def one_error_line(code: int, stderr: str) -> str:
    assert code == 2, stderr
    assert stderr.count("\n") == 1 and stderr.startswith("error: "), stderr
    return stderr[len("error: "):].rstrip("\n")


# --------------------------------------------------------------------------------------
# Every value checked before work starts
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("override", "message"), [
    ("train.lr=nan", "train.lr='nan' is not a finite number; give a finite float (0 to 10)"),
    ("train.weight_decay=nan", "train.weight_decay='nan' is not a finite number; give a finite float (at least 0)"),
    ("backbone.dropout=nan", "backbone.dropout='nan' is not a finite number; give a finite float (0 to 0.9)"),
    ("split.validation=nan", "split.validation='nan' is not a finite number; give a finite float (0 to 0.5)"),
    ("split.test=nan", "split.test='nan' is not a finite number; give a finite float (0 to 0.5)"),
    ("data.clip_seconds=inf", "data.clip_seconds='inf' is not a finite number; give a finite float (0.05 to 600)"),
    ("data.clip_seconds=nan", "data.clip_seconds='nan' is not a finite number; give a finite float (0.05 to 600)"),
    ("data.imbalance=inf", "data.imbalance='inf' is not a finite number; give a finite float (1 to 10000)"),
    ("data.imbalance=nan", "data.imbalance='nan' is not a finite number; give a finite float (1 to 10000)"),
])
def test_non_finite_values_are_refused_before_any_work(catalog, override, message):
    assert refusal(catalog, override) == message


def test_a_non_finite_augmenter_option_is_refused(catalog):
    assert refusal(catalog, "augmenter=noise", "augmenter.noise.min_snr_db=nan") == (
        "augmenter.noise.min_snr_db='nan' is not a finite number; give a finite float (-120 to 200)")


def test_an_option_that_allows_non_finite_values_takes_them():
    assert Option(name="x", type=float, default=0.0, allow_nonfinite=True).coerce("-inf", "x") == -math.inf
    assert math.isnan(Option(name="x", type=float, default=0.0, allow_nonfinite=True).coerce("nan", "x"))


def test_a_learning_rate_that_underflows_to_zero_is_refused(catalog):
    assert refusal(catalog, "train.lr=1e-400") == (
        "train.lr='1e-400' is too small to be represented (it would become 0); give a larger value (0 to 10)")
    assert resolve(catalog, ["train.lr=0.0e-5"]).train["lr"] == 0.0  # zero written as zero stays allowed


@pytest.mark.parametrize(("seed", "message"), [
    ("-1", "seed='-1' is below the minimum 0"),
    ("4294967296", "seed='4294967296' is above the maximum 4294967295"),
    ("99999999999999999999999", "seed='99999999999999999999999' is above the maximum 4294967295"),
])
def test_seeds_outside_0_to_2_32_minus_1_are_refused(catalog, seed, message):
    assert refusal(catalog, f"seed={seed}") == message


def test_the_largest_seed_numpy_takes_is_accepted(catalog):
    assert resolve(catalog, ["seed=4294967295"]).seed == 2**32 - 1


@pytest.mark.parametrize(("override", "message"), [
    ("data.clip_seconds=1e9", "data.clip_seconds='1e9' is above the maximum 600"),
    ("data.imbalance=1e9", "data.imbalance='1e9' is above the maximum 10000"),
    ("data.max_windows=100000000", "data.max_windows='100000000' is above the maximum 10000"),
    ("train.epochs=1000000000", "train.epochs='1000000000' is above the maximum 100000"),
    ("representation.sample_rate=10000000", "representation.sample_rate='10000000' is above the maximum 192000"),
    ("backbone.channels=100000", "backbone.channels='100000' is above the maximum 1024"),
])
def test_values_that_would_exhaust_memory_or_time_are_refused(catalog, override, message):
    assert refusal(catalog, override) == message


@pytest.mark.parametrize("name", ["../..", "..", ".", "a/b", "a\\b", "/tmp/x"])
def test_a_run_name_cannot_leave_out(catalog, name):
    assert refusal(catalog, f"name={name}") == (
        f"name={name!r} is not a folder name: the run folder must stay inside out=; give a plain name (no '/', "
        f"'\\', '..', at most 200 bytes), or set out= for another place")


def test_an_empty_name_gives_the_default_folder_name(catalog):
    assert resolve(catalog, ["name="]).name is None


def test_out_pointing_at_a_file_is_one_line(tmp_path):
    (tmp_path / "a-file").write_text("x")
    assert one_error_line(*mirplug_main("run", "task=genre", f"out={tmp_path / 'a-file'}")) == (
        f"out={tmp_path / 'a-file'} is not a folder; choose a folder for the run folders")
    assert one_error_line(*mirplug_main("run", "task=genre", f"out={tmp_path / 'a-file' / 'below'}")) == (
        f"out={tmp_path / 'a-file' / 'below'} is not a folder ({tmp_path / 'a-file'} is a file); choose a folder "
        f"for the run folders")


def test_fad_backbone_is_auto_logmel_or_a_backbone(catalog):
    installed = ", ".join(sorted(catalog.names("backbone")))  # installed distributions add theirs
    assert refusal(catalog, "eval.fad_backbone=whatever") == (
        f"eval.fad_backbone=whatever: unknown backbone 'whatever'; available backbones: {installed}; "
        "or auto, logmel")
    for choice in ("auto", "logmel", "musicnn"):
        assert resolve(catalog, [f"eval.fad_backbone={choice}"]).eval["fad_backbone"] == choice


def test_a_weight_decay_that_wipes_the_weights_names_weight_decay_not_the_learning_rate(catalog):
    message = refusal(catalog, "train.weight_decay=1e308")
    assert message == ("train.weight_decay=1e+308 with train.lr=0.002: AdamW multiplies every weight by "
                       "1 - lr * weight_decay = -2e+305 each step, which wipes the model out; lower "
                       "train.weight_decay below 500 (default 0.0001)")
    assert "lower train.lr" not in message


def test_a_component_that_rejects_its_options_is_one_line_naming_it():
    def factory(n: int) -> None:
        raise ValueError("n must be even\nsecond line")

    spec = RepresentationSpec(name="odd", summary="s", factory=factory, license="MIT")
    with pytest.raises(ConfigError) as error:
        spec.build({"n": 3})
    assert str(error.value) == ("representation 'odd' cannot be built with n=3 (ValueError: n must be even); "
                                "change its options (see 'mirplug list representations')")


def test_a_line_break_in_user_text_stays_on_the_one_error_line():
    message = one_error_line(*mirplug_main("run", "=\nx"))
    assert message == "override '=\\nx' is not of the form key=value (e.g. train.epochs=5)"


# --------------------------------------------------------------------------------------
# A generator with nothing to generate (item 9)
# --------------------------------------------------------------------------------------
NOTHING_TO_GENERATE = ("augmenter 'vae' would add no clips (augmenter.per_class=0 and augmenter.balance=false); "
                       "set augmenter.per_class=N (N clips added to every class) or augmenter.balance=true (every "
                       "class brought up to the largest)")


@pytest.mark.parametrize("command", [
    ["run", "task=genre", "augmenter=vae"],
    ["sweep", "task=genre", "augmenter=vae", "seed=0,1"],
    ["ablate", "task=genre", "augmenter=vae", "data.per_class=5", "seed=0,1"],
    ["augment", "task=genre", "augmenter=vae"],
])
def test_a_generator_with_nothing_to_generate_is_refused_before_any_work(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = [f"out={tmp_path / 'augmented'}"] if command[0] == "augment" else []
    assert one_error_line(*mirplug_main(*command, *out)) == NOTHING_TO_GENERATE
    assert list(tmp_path.iterdir()) == []  # no run, sweep or dataset folder was started


def test_several_generators_name_the_one_with_nothing_to_generate(catalog):
    assert refusal(catalog, "augmenter=vae,gan", "augmenter.vae.per_class=3").startswith(
        "augmenter 'gan' would add no clips (augmenter.gan.per_class=0 and augmenter.gan.balance=false)")


def test_balancing_classes_that_are_already_balanced_is_refused_before_fitting(catalog, tmp_path):
    from mirplug.data import split_dataset
    from mirplug.generation import synthesize
    from mirplug.build import build_generators, build_task, load_dataset

    config = resolve(catalog, [*TINY, "data.styles=2", "augmenter=vae", "augmenter.balance=true"])
    task = build_task(catalog, config)
    splits = split_dataset(load_dataset(catalog, config), "label", 0.25, 0.25, 0)
    labels = splits["train"]["label"]
    balanced = splits["train"].select([i for label in (0, 1) for i in
                                       [j for j, value in enumerate(labels) if value == label][:3]])
    (name, generator), = build_generators(catalog, config)

    def fit_or_load(*args, **kwargs):
        raise AssertionError("the generator was fitted")

    generator.fit_or_load = fit_or_load
    with pytest.raises(DataError) as error:
        synthesize([(name, generator)], balanced, splits["test"], task.label_names(splits["train"]), "label", 1.0,
                   tmp_path, 0)
    assert str(error.value) == ("augmenter 'vae' would add no clips: with augmenter.balance=true every class of the "
                                "training split already has as many clips as the largest (3); set "
                                "augmenter.per_class=N to add N clips to every class")


# --------------------------------------------------------------------------------------
# mirplug run --config
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("contents", "message"), [
    (None, "{path}: no such file; pass a run's config.yaml (runs/<timestamp>-<task>/config.yaml)"),
    ("task: [genre\n", "{path} is not valid YAML at line 2, column 1: expected ',' or ']', but got '<stream end>'; "
                       "fix it or start from a run's config.yaml"),
    ("task: 5\n", "{path}: 'task' must be a name or a mapping with 'name' and its options, not the number 5"),
    ("task: genre\naugmenter:\n- p: 0.5\n", "{path}: augmenter entry 1 has no 'name'; write it as - name: gain"),
    ("- task\n", "{path} is not a YAML mapping (key: value lines); start from a run's config.yaml"),
    ("trian:\n  lr: 0.1\n", "{path}: unknown key 'trian' (did you mean 'train'?); a config has: task, data, "
                            "representation, backbone, augmenter, logger, train, eval, split, seed, out, name"),
    ("train:\n  lr: 1.0e-400\n", "{path} is not valid YAML at line 2, column 7: 1.0e-400 is too small to be "
                                 "represented (it would become 0); fix it or start from a run's config.yaml"),
    ("train: [1, 2]\n", "{path}: 'train' must be a mapping of option: value, not a list"),
    ("train:\n  lr: .nan\n", "train.lr='nan' is not a finite number; give a finite float (0 to 10)"),
])
def test_a_bad_config_file_is_one_line(tmp_path, contents, message):
    path = tmp_path / "config.yaml"
    if contents is not None:
        path.write_text(contents)
    assert one_error_line(*mirplug_main("run", "--config", str(path))) == message.format(path=path)


def test_a_folder_given_as_config_is_one_line(tmp_path):
    assert one_error_line(*mirplug_main("run", "--config", str(tmp_path))) == (
        f"{tmp_path} is a folder, not a config file; pass the config.yaml inside a run folder")


def test_a_config_that_is_not_text_is_one_line(tmp_path):
    (tmp_path / "config.yaml").write_bytes(b"\xff\xfe\x00garbage")
    assert one_error_line(*mirplug_main("run", "--config", str(tmp_path / "config.yaml"))) == (
        f"{tmp_path / 'config.yaml'} is not a text file (not UTF-8); pass a YAML config such as a run's config.yaml")


# --------------------------------------------------------------------------------------
# mirplug predict
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    from mirplug.catalog import load_catalog
    from mirplug.runner import run

    catalog = load_catalog()
    out = tmp_path_factory.mktemp("trained")
    result = run(resolve(catalog, ["task=genre", *TINY, *SMALL_CNN, f"out={out}"]), catalog, quiet())
    return result.folder


def quiet():
    from rich.console import Console

    return Console(file=io.StringIO(), width=200)


@pytest.fixture
def run_copy(trained, tmp_path) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(trained, folder)
    write_audio(tmp_path / "clip.wav", tone(330.0, 1.0))
    return folder


def predict(folder: Path) -> tuple[int, str]:
    return mirplug_main("predict", "--run", str(folder), str(folder.parent / "clip.wav"), "--json")


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbled"])
def test_predict_with_a_damaged_model_file_is_one_line(run_copy, damage):
    model = run_copy / "model.safetensors"
    data = model.read_bytes()
    model.write_bytes({"truncated": data[:len(data) // 2], "empty": b"", "garbled": bytes(range(256)) * 40}[damage])
    message = one_error_line(*predict(run_copy))
    assert message.startswith(f"{model} is damaged (empty, truncated or not a safetensors file); run the training "
                              f"again or restore the file from a copy (SafetensorError: ")


def test_predict_with_a_malformed_config_is_one_line(run_copy):
    (run_copy / "config.yaml").write_text("task: [genre\n")
    assert one_error_line(*predict(run_copy)).startswith(f"{run_copy / 'config.yaml'} is not valid YAML at line 2")


def test_predict_with_a_config_that_does_not_describe_the_model_is_one_line(run_copy):
    config = run_copy / "config.yaml"
    config.write_text(config.read_text().replace("channels: 4", "channels: 8"))
    assert one_error_line(*predict(run_copy)).startswith(
        f"{config} does not describe the model in {run_copy / 'model.safetensors'} (size mismatch for "
        f"backbone.body.0.weight: ")


@pytest.mark.parametrize(("edit", "shape"), [
    (("n_mels: 64", "n_mels: 32"), "(32, 51) (50 frames/s)"),
    (("hop_length_ms: 20.0", "hop_length_ms: 10.0"), "(64, 101) (100 frames/s)"),
    (("clip_seconds: 1.0", "clip_seconds: 2.0"), "(64, 101) (50 frames/s)"),
])
def test_predict_refuses_a_config_whose_features_differ_from_the_models_input(run_copy, edit, shape):
    config = run_copy / "config.yaml"
    assert edit[0] in config.read_text()
    config.write_text(config.read_text().replace(*edit))
    assert one_error_line(*predict(run_copy)) == (
        f"{config} describes features of shape {shape}, but the model was trained on (64, 51) (50 frames/s); "
        f"config.yaml was edited after training (representation or data.clip_seconds): undo the edits, or train "
        f"a new model with them")


def test_predict_ignores_settings_that_play_no_part_in_predicting(run_copy):
    config = run_copy / "config.yaml"
    config.write_text(config.read_text().replace("fad_backbone: auto", "fad_backbone: whatever"))
    code, stderr = predict(run_copy)
    assert code == 0, stderr


# --------------------------------------------------------------------------------------
# Components that do not fit: caught before any decoding
# --------------------------------------------------------------------------------------
class ClipStats(Representation):
    """A clip-level representation (``frame_rate = None``): mean, standard deviation and peak of the waveform."""

    thread_safe = True

    def __init__(self, sample_rate: int = 16000) -> None:
        super().__init__()
        self.sample_rate, self.frame_rate = sample_rate, None

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return torch.stack([waveform.mean(1), waveform.std(1), waveform.abs().amax(1)], dim=1)


class ClipStatsPlugin:
    @hookimpl
    def mirplug_register_representations(self):
        return [RepresentationSpec(name="clipstats", summary="clip statistics", factory=ClipStats, license="MIT",
                                   options=(Option(name="sample_rate", type=int, default=16000),))]


@pytest.fixture
def clip_catalog() -> Catalog:
    """The catalog plus a third-party clip-level representation."""
    host = load_plugins()
    host.register(ClipStatsPlugin(), "clipstats")
    return Catalog.from_host(host)


@pytest.fixture
def no_decoding(monkeypatch) -> None:
    """Loading the dataset (the first step towards decoding audio) fails the test."""
    import mirplug.runner

    def decoding(*args, **kwargs):
        raise AssertionError("audio was decoded before the components were checked")

    monkeypatch.setattr(mirplug.runner, "load_dataset", decoding)


def test_a_clip_level_representation_with_a_frame_backbone_is_refused_before_decoding(clip_catalog, no_decoding,
                                                                                       tmp_path):
    from mirplug.runner import run

    config = resolve(clip_catalog, ["task=genre", "representation=clipstats", "backbone=cnn", f"out={tmp_path}"])
    with pytest.raises(ConfigError) as error:
        run(config, clip_catalog, quiet())
    assert str(error.value) == ("representation 'clipstats' gives one vector per clip, but backbone 'cnn' takes "
                                "(channels, frames) features only; choose a backbone that takes them "
                                "(backbone=linear, backbone=mlp) or another representation")
    assert list(tmp_path.iterdir()) == []


def test_a_frame_level_task_with_a_clip_level_representation_is_refused_before_decoding(clip_catalog, no_decoding,
                                                                                       tmp_path):
    from mirplug.runner import run

    config = resolve(clip_catalog, ["task=beats", "representation=clipstats", f"out={tmp_path}"])
    with pytest.raises(ConfigError) as error:
        run(config, clip_catalog, quiet())
    assert str(error.value) == ("task 'beats' predicts per frame, but representation 'clipstats' gives one vector "
                                "per clip (no frame rate); choose a representation with frames (e.g. the task's "
                                "default)")


def test_with_only_a_clip_level_representation_given_a_backbone_that_takes_it_is_chosen(clip_catalog, tmp_path):
    from rich.console import Console

    import mirplug.build
    from mirplug.runner import run

    output = io.StringIO()
    result = run(resolve(clip_catalog, ["task=genre", *TINY, "representation=clipstats", f"out={tmp_path}"]),
                 clip_catalog, Console(file=output, width=400))
    assert "note: representation 'clipstats' gives one vector per clip, which the default backbone 'cnn' does not "
    "take: using backbone=mlp (choose another with backbone=...)" in output.getvalue()
    assert "name: mlp" in (result.folder / "config.yaml").read_text()
    assert 0.0 <= result.metrics["macro_f1"] <= 1.0
    # a backbone.* key says the user meant the default backbone: then it is an error, not a swap
    with pytest.raises(ConfigError):
        mirplug.build.preflight(clip_catalog, resolve(clip_catalog, ["representation=clipstats",
                                                                      "backbone.channels=8"]))


# --------------------------------------------------------------------------------------
# Pip stays pip's
# --------------------------------------------------------------------------------------
@pytest.fixture
def pip_calls(monkeypatch) -> list[list[str]]:
    import mirplug.installer

    calls: list[list[str]] = []
    monkeypatch.setattr(mirplug.installer, "run_pip", lambda args, what: calls.append(list(args)))
    return calls


def write_manifest(tmp_path: Path, *entries: dict) -> Path:
    path = tmp_path / "config" / "plugins.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"plugins": list(entries)}))
    return path


@pytest.mark.parametrize("requirement", ["--index-url=http://127.0.0.1:9/simple", "-r/etc/hostname"])
def test_a_manifest_entry_cannot_add_pip_options(tmp_path, pip_calls, requirement):
    path = write_manifest(tmp_path, {"name": "good", "requirement": "mirplug-good", "editable": False,
                                     "source": "requirement"},
                          {"name": "evil", "requirement": requirement, "editable": False, "source": "requirement"})
    message = one_error_line(*mirplug_main("plugins", "restore"))
    assert message == (f"{path}: plugin entry 'evil': {requirement!r} is not a requirement but looks like a pip "
                       f"option; only pip requirements (name, name>=1, name @ https://...) or local paths are "
                       f"installed")
    assert pip_calls == []  # not even the good entry: every entry is checked first
    assert one_error_line(*mirplug_main("plugins", "--requirements")) == message


def test_a_manifest_entry_that_is_no_requirement_nor_path_is_refused(tmp_path, pip_calls):
    path = write_manifest(tmp_path, {"name": "odd", "requirement": "not a requirement!", "editable": False,
                                     "source": "requirement"})
    assert one_error_line(*mirplug_main("plugins", "restore")).startswith(
        f"{path}: plugin entry 'odd': 'not a requirement!' is neither a valid pip requirement (")
    assert pip_calls == []


def test_restore_passes_requirements_after_a_double_dash(tmp_path, pip_calls):
    write_manifest(tmp_path, {"name": "foo", "requirement": "foo @ https://example.com/foo-1.0.tar.gz",
                              "editable": False, "source": "requirement"})
    assert mirplug_main("plugins", "restore") == (0, "restored 1 plugin(s): foo\n")
    assert pip_calls[0][-2:] == ["--", "foo @ https://example.com/foo-1.0.tar.gz"]


def test_a_direct_reference_is_a_requirement_not_a_path(pip_calls):
    from mirplug.installer import pip_install, resolve_target

    target = resolve_target("foo @ https://example.com/foo-1.0.tar.gz", {})
    assert (target.source, target.name) == ("requirement", "foo")
    assert pip_install(target) == "foo"
    assert pip_calls == [["install", "--report", pip_calls[0][2], "--", "foo @ https://example.com/foo-1.0.tar.gz"]]


def test_a_pip_option_given_to_install_is_refused(pip_calls):
    assert one_error_line(*mirplug_main("install", "--yes", "--", "--index-url=http://127.0.0.1:9")) == (
        "mirplug install: '--index-url=http://127.0.0.1:9' is not a requirement but looks like a pip option; only "
        "pip requirements (name, name>=1, name @ https://...) or local paths are installed")
    assert pip_calls == []


# --------------------------------------------------------------------------------------
# Messages print what they are given
# --------------------------------------------------------------------------------------
def test_brackets_in_a_requirement_are_printed(pip_calls):
    from typer.testing import CliRunner

    from mirplug.cli import app

    result = CliRunner().invoke(app, ["install", "foo[bar]>=1"], input="n\n")
    assert "warning: 'foo[bar]>=1' is not in mirplug's plugin registry." in result.output


def test_a_skipped_file_named_like_markup_is_printed_as_named(tmp_path):
    from rich.console import Console

    from mirplug.catalog import load_catalog
    from mirplug.runner import run

    for label, frequency in (("low", 220.0), ("high", 880.0)):
        for index in range(5):
            write_audio(tmp_path / "data" / label / f"{index}.wav", tone(frequency * (1 + index / 10), 1.0))
    (tmp_path / "data" / "low" / "[bold]x.wav").write_bytes(b"not audio")
    output = io.StringIO()
    catalog = load_catalog()
    config = resolve(catalog, ["task=genre", "data=audiofolder", f"data.path={tmp_path / 'data'}",
                               "data.clip_seconds=1.0", "train.epochs=1", *SMALL_CNN, f"out={tmp_path / 'runs'}"])
    run(config, catalog, Console(file=output, width=400))
    assert f"skipped {tmp_path / 'data' / 'low' / '[bold]x.wav'}: cannot decode" in output.getvalue()


def test_predict_prints_a_file_named_like_markup_as_named(run_copy):
    broken = run_copy.parent / "[bold]x.wav"
    broken.write_bytes(b"not audio")
    code, stderr = mirplug_main("predict", "--run", str(run_copy), str(broken))
    assert code == 1 and f"skipped {broken}: cannot decode" in stderr


def test_the_dataset_card_shows_no_absolute_local_path():
    import datasets

    from mirplug.hub import card

    dataset = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"label": [0], "synthetic": [False]})})
    provenance = {"task": "genre", "labels": ["a"],
                  "source": {"dataset": "audiofolder", "options": {"path": "/home/someone/music/gtzan/genres",
                                                                   "clip_seconds": 3.0}},
                  "augmentation": [{"augmenter": "vae", "kind": "generator", "stage": "generator",
                                    "options": {"checkpoint": "/home/someone/generators/vae", "per_class": 5}}]}
    text = card(dataset, provenance, "me/genre")
    assert "/home/someone" not in text
    assert "- dataset: `audiofolder` (clip_seconds=3.0, path=<local>/genres)" in text
    assert "checkpoint=<local>/vae, per_class=5" in text

