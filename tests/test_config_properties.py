"""Property tests (Hypothesis): any overrides and any ``--config`` file give a valid config or one error line.

Whatever a user types, ``resolve`` returns a config whose values passed their checks, or raises a
:class:`MirplugError`; ``mirplug run --config FILE`` then either starts the run or prints exactly one
``error:`` line and exits 2, never a traceback. The run itself is replaced by a stub: these tests are
about the checks before any work.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from contextlib import redirect_stderr
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mirplug.catalog import load_catalog
from mirplug.config import DATA_OPTIONS, SCALARS, SECTIONS, RunConfig, config_from_dict, resolve
from mirplug.errors import MirplugError, one_line

CATALOG = load_catalog()
QUICK = settings(max_examples=150, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# keys a user may plausibly type: every core option, options of the default components, and typos
CORE_KEYS = sorted({*(f"{section}.{o.name}" for section, options in SECTIONS.items() for o in options), *SCALARS,
                    *(f"data.{o.name}" for o in DATA_OPTIONS)})
OTHER_KEYS = ["data.clips_per_class", "data.seconds", "data.styles", "data.seed", "representation.n_mels",
              "representation.n_fft", "representation.hop_length_ms", "representation.sample_rate",
              "representation.f_max", "backbone.channels", "backbone.blocks", "backbone.dropout", "augmenter.p",
              "augmenter.per_class", "augmenter.balance", "augmenter.steps", "augmenter.noise.min_snr_db",
              "augmenter.vae.per_class", "train", "seed.x", "trian.lr", ""]
KEYS = st.one_of(st.sampled_from(CORE_KEYS), st.sampled_from(CORE_KEYS), st.sampled_from(OTHER_KEYS))
# mostly names that exist, so that the values behind them get checked too
SELECTIONS = {"task": ["genre", "genre", "key", "beats", "tagging", "nope"],
              "representation": ["mel", "mel", "mfcc", "waveform", "cqt", "x"],
              "backbone": ["cnn", "cnn", "mlp", "linear", "musicnn", "cn"],
              "augmenter": ["", "gain", "noise", "gain,noise", "vae", "gan", "gain,gain", "none", "specaugment"],
              "data": ["synthetic", "synthetic", "audiofolder", "manifest"]}
TRICKY = ["nan", "NaN", "inf", "-inf", "1e-400", "-1e-400", "1e400", "1e308", "-1", "0", "0.0", "1", "3", "0.5",
          "2", "4294967295", "4294967296", "99999999999999999999999", "1_000", "true", "no", "none", "null", "",
          " ", "..", "../..", "a/b", "[bold]x", "foo[bar]>=1", "é", "\x00", "1.5", "-0", "0x10", "1e3"]
TRICKY_VALUES = st.sampled_from(TRICKY)
VALUES = st.one_of(TRICKY_VALUES, TRICKY_VALUES, TRICKY_VALUES, st.integers(-(2**70), 2**70).map(str),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=12))


@st.composite
def overrides(draw: st.DrawFn) -> list[str]:
    items = [f"{key}={draw(st.sampled_from(choices))}" for key, choices in SELECTIONS.items()
             if draw(st.booleans())]
    items += [f"{draw(KEYS)}={draw(VALUES)}" for _ in range(draw(st.integers(0, 3)))]
    return draw(st.permutations(items))


def assert_valid(config: RunConfig) -> None:
    """What a resolved config promises: finite numbers, a seed numpy takes, a name that stays inside out."""
    numbers = [*config.train.values(), *config.split.values(), *config.data.options.values(),
               *config.representation.options.values(), *config.backbone.options.values(),
               *(v for a in config.augmenters for v in a.options.values())]
    assert all(math.isfinite(v) for v in numbers if isinstance(v, float))
    assert 0 <= config.seed <= 2**32 - 1
    assert config.name is None or (Path(config.out, config.name).parent == Path(config.out)
                                   and config.name not in (".", ".."))
    assert 0.05 <= config.data.options["clip_seconds"] <= 600


@QUICK
@given(overrides())
def test_any_overrides_give_a_valid_config_or_a_mirplug_error(items):
    try:
        config = resolve(CATALOG, items)
    except MirplugError as error:
        assert "\n" not in one_line(error)  # what the CLI prints: one line
        return
    assert_valid(config)
    # config.yaml is enough to rerun: what a run saves resolves to the same config
    assert resolve(CATALOG, config_from_dict(config.to_dict())) == config


SCALAR_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-(2**66), 2**66),
                          st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(TRICKY),
                          st.text(max_size=10))
TOP_KEYS = ["task", "data", "representation", "backbone", "augmenter", "train", "split", "eval", "seed", "out",
            "name", "trian"]
OPTION_KEYS = ["name", "lr", "epochs", "weight_decay", "validation", "test", "fad_backbone", "folds", "clip_seconds",
               "per_class", "imbalance", "p", "channels", "n_mels", "balance", "path", "x"]


def documents() -> st.SearchStrategy:
    """YAML-able structures shaped roughly like a config.yaml, with wrong shapes mixed in."""
    leaf = SCALAR_VALUES
    section = st.one_of(st.dictionaries(st.sampled_from(OPTION_KEYS), leaf, max_size=4), leaf,
                        st.lists(leaf, max_size=3))
    augmenters = st.one_of(st.lists(st.one_of(st.dictionaries(st.sampled_from(OPTION_KEYS), leaf, max_size=3),
                                              st.sampled_from(["gain", "noise", "vae"]), leaf), max_size=3), leaf)
    return st.fixed_dictionaries({}, optional={
        **{key: section for key in TOP_KEYS}, "augmenter": augmenters, "seed": leaf, "out": leaf, "name": leaf,
    })


@st.composite
def config_files(draw: st.DrawFn) -> bytes:
    """A config file as bytes: a dumped structure, possibly cut or garbled, or any text at all."""
    kind = draw(st.sampled_from(["document", "document", "cut", "text", "bytes"]))
    if kind == "text":
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    text = yaml.safe_dump(draw(documents()), sort_keys=False, allow_unicode=True)
    if kind == "cut":
        text = text[:draw(st.integers(0, len(text)))]
    return text.encode("utf-8", "surrogatepass")


@pytest.fixture
def stub_run(monkeypatch):
    """``mirplug run`` resolves and checks as usual, then calls this instead of training."""
    import mirplug.cli.common
    import mirplug.runner

    started: list[RunConfig] = []
    monkeypatch.setattr(mirplug.runner, "run", lambda config, catalog, console=None, **options: started.append(config))
    monkeypatch.setattr(mirplug.cli.common, "catalog_with_warnings", lambda: CATALOG)
    return started


def mirplug_main(*args: str) -> tuple[int, str]:
    """``mirplug args`` in this process: the exit code and stderr."""
    from mirplug.cli import main

    stderr = io.StringIO()
    code = 0
    with redirect_stderr(stderr):
        try:
            main(list(args))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return code, stderr.getvalue()


@QUICK
@given(config_files(), st.lists(st.sampled_from(["train.epochs=2", "seed=1", "name=x", "out=elsewhere"]),
                                max_size=2))
def test_any_config_file_starts_the_run_or_prints_one_error_line(stub_run, contents, extra):
    os.environ.pop("MIRPLUG_DEBUG", None)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "config.yaml"
        path.write_bytes(contents)
        code, stderr = mirplug_main("run", "--config", str(path), *extra)
    if code == 0:
        assert stub_run and stderr == ""
        assert_valid(stub_run[-1])
    else:
        assert code == 2, stderr
        assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
