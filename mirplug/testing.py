"""Contract checks for mirplug components, for ``mirplug validate`` and plugin authors' tests.

Every component kind has a contract the runner relies on. The checks here build each
component from its spec, exactly as a run does, and test that contract:

* every spec: name usable on the command line, summary, license, importable factory,
  option defaults that pass their own validation;
* representations and backbones: output shape, ``float32``, no NaN or infinity (also on
  silence), determinism, and a batch equal to its items computed one by one;
* augmenters: seeded reproducibility, unchanged length and dtype, a bounded output range,
  JSON-serializable parameters;
* tasks and datasets: a tiny end-to-end run (one epoch on a few clips).

Use them from pytest::

    from mirplug.testing import assert_component_passes

    def test_myfeat():
        assert_component_passes("representation", "myfeat")

or with the fixtures (``pytest_plugins = ["mirplug.testing"]`` in ``conftest.py``):
``mirplug_catalog`` (a freshly loaded catalog) and ``mirplug_check`` (a function
``check(kind, name, options=None)`` that fails the test with every broken check listed).

This module is part of the plugin API (with :mod:`mirplug`): the names in ``__all__`` follow the
compatibility rule of :data:`mirplug.PLUGIN_API_VERSION`; the rest is internal.
"""

from __future__ import annotations

import io
import json
import math
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mirplug.catalog import Catalog, load_catalog
from mirplug.errors import MirplugError
from mirplug.specs import BACKBONE_INPUTS, KINDS, AugmenterSpec, BackboneSpec, ComponentSpec, TaskSpec

__all__ = [
    "CheckResult",
    "assert_component_passes",
    "assert_plugin_passes",
    "check_component",
    "check_plugin",
    "failures_text",
    "sample_waveforms",
]  # plus the fixtures mirplug_catalog and mirplug_check where pytest is installed

PASS, FAIL, SKIP = "pass", "fail", "skip"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
BATCH = 3  # examples per test batch
SECONDS = 1.0  # length of the test waveforms
TOLERANCE = 1e-4  # batched and one-by-one outputs may differ by float rounding only
LEVEL_STEP_DB = 30.0  # each test example is this much quieter than the one before
MAX_GAIN = 10.0  # a waveform augmenter may raise the peak by at most 20 dB


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one contract check on one component."""

    component: str  # "kind:name"
    check: str
    status: str  # "pass", "fail" or "skip"
    detail: str = ""

    @property
    def passed(self) -> bool:
        """Whether the check did not fail (a skipped check does not fail)."""
        return self.status != FAIL


class _Checks:
    """Collects results; each check runs in isolation so one failure does not hide the others."""

    def __init__(self, component: str) -> None:
        self.component = component
        self.results: list[CheckResult] = []

    def run(self, check: str, function: Callable[[], str | None]) -> bool:
        try:
            detail = function() or ""
        except Exception as exc:  # a contract violation, whatever its type
            self.results.append(CheckResult(self.component, check, FAIL, _one_line(exc)))
            return False
        self.results.append(CheckResult(self.component, check, PASS, detail))
        return True

    def skip(self, check: str, why: str) -> None:
        self.results.append(CheckResult(self.component, check, SKIP, why))


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if not isinstance(exc, AssertionError) else str(exc)
    return (text.strip().splitlines() or [type(exc).__name__])[0]


def _require(condition: bool, message: str) -> None:
    """Raise :class:`AssertionError` with ``message`` unless ``condition`` (kept under ``python -O``)."""
    if not condition:
        raise AssertionError(message)


def sample_waveforms(sample_rate: int, batch: int = BATCH, seconds: float = SECONDS, seed: int = 0) -> Any:
    """A seeded ``(batch, time)`` float32 batch of chords plus noise, peak below 1.

    Example ``i`` is ``LEVEL_STEP_DB * i`` dB quieter than the first, so a component whose
    output for one example depends on the loudest one in its batch (a dB floor taken over the
    batch, a batch-wide normalisation) fails "batch equals items".
    """
    import torch

    rng = np.random.default_rng(seed)
    time = np.arange(int(round(seconds * sample_rate))) / sample_rate
    waves = []
    for index in range(batch):
        freqs = rng.uniform(110.0, 1760.0, size=3)
        wave = sum(np.sin(2 * np.pi * f * time + rng.uniform(0, 2 * np.pi)) for f in freqs) / 4.0
        gain = 10.0 ** (-LEVEL_STEP_DB * index / 20.0)
        waves.append(gain * (wave + 0.05 * rng.standard_normal(len(time))))
    return torch.tensor(np.stack(waves), dtype=torch.float32).clamp(-0.99, 0.99)


def _finite(tensor: Any, what: str) -> None:
    import torch

    _require(bool(torch.isfinite(tensor).all()), f"{what} contains NaN or infinity")


def _float32(tensor: Any, what: str) -> None:
    import torch

    _require(isinstance(tensor, torch.Tensor), f"{what} is a {type(tensor).__name__}, not a torch.Tensor")
    _require(tensor.dtype == torch.float32, f"{what} has dtype {tensor.dtype}, not torch.float32")


def _close(a: Any, b: Any, what: str) -> None:
    import torch

    _require(a.shape == b.shape, f"{what}: shapes {tuple(a.shape)} and {tuple(b.shape)} differ")
    difference = float((a - b).abs().max()) if a.numel() else 0.0
    scale = max(1.0, float(a.abs().max()) if a.numel() else 1.0)
    _require(difference <= TOLERANCE * scale or torch.equal(a, b), f"{what}: outputs differ by up to {difference:.3g}")


def _options(spec: ComponentSpec, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The defaults, then the spec's ``quick_options``, then ``overrides``, each checked against its option."""
    options = spec.option_defaults()
    for key, value in {**spec.quick_options, **(overrides or {})}.items():
        option = spec.option(key)
        _require(option is not None, f"{spec.kind} '{spec.name}' has no option '{key}'")
        assert option is not None
        options[key] = option.coerce(value, f"{spec.kind}.{key}")
    return options


# --------------------------------------------------------------------------------------
# Spec metadata (every kind)
# --------------------------------------------------------------------------------------
def check_spec(spec: ComponentSpec) -> list[CheckResult]:
    """Metadata: name, summary, license, importable factory, valid option defaults, kind-specific fields."""
    checks = _Checks(f"{spec.kind}:{spec.name}")

    def name() -> str:
        _require(bool(NAME_PATTERN.match(spec.name)),
                 f"name {spec.name!r} must be letters, digits, '_', '-' or '.' (no ':', '=', ',' or spaces)")
        return spec.name

    def summary() -> None:
        _require(bool(spec.summary.strip()), "summary is empty; say in one line what the component does")

    def license_() -> str:
        _require(bool(spec.license.strip()) and spec.license != "unknown",
                 "license is not set; give an SPDX identifier such as 'MIT'")
        return spec.license

    def factory() -> str:
        _require(callable(spec.load_factory()), f"factory {spec.factory!r} is not callable")
        return spec.factory if isinstance(spec.factory, str) else getattr(spec.factory, "__qualname__", "callable")

    def options() -> str:
        names = [o.name for o in spec.options]
        _require(len(set(names)) == len(names), f"option names repeat: {names}")
        for option in spec.options:
            _require(bool(NAME_PATTERN.match(option.name)), f"option name {option.name!r} is not usable as a key")
            option.coerce(option.default, f"{spec.kind}.{option.name}")
        return f"{len(names)} option(s)"

    checks.run("name", name)
    checks.run("summary", summary)
    checks.run("license", license_)
    checks.run("factory", factory)
    checks.run("options", options)
    if isinstance(spec, TaskSpec):
        def task_fields() -> None:
            _require(bool(spec.main_metric), "main_metric is empty")
            _require(spec.default_dataset is None or bool(NAME_PATTERN.match(spec.default_dataset)),
                     "default_dataset is not a dataset name")
            # Plain keys choose components; dotted keys default an option of one (or of a core section).
            heads = {"data", "representation", "backbone", "augmenter", "train", "split"}
            unknown = {k for k in (*spec.defaults, *spec.recorded_defaults) if k.partition(".")[0] not in heads
                       or (k.partition(".")[0] in ("train", "split") and "." not in k)}
            _require(not unknown, f"defaults has unknown keys {sorted(unknown)}")

        checks.run("task fields", task_fields)
    if isinstance(spec, BackboneSpec):
        def backbone_fields() -> None:
            _require(spec.expects in BACKBONE_INPUTS,
                     f"expects={spec.expects!r} must be one of {', '.join(map(repr, BACKBONE_INPUTS))}")
            # sample_rate=None: the factory's input_sample_rate(options) says it (e.g. the model it loads).
            _require(spec.expects != "waveform" or bool(spec.sample_rate) or _says_its_rate(spec.load_factory()),
                     "a backbone that expects waveforms must set sample_rate (or its factory override "
                     "Backbone.input_sample_rate)")

        checks.run("backbone fields", backbone_fields)
    if spec.quick_options:
        def quick_options() -> str:
            _options(spec, None)
            return ", ".join(f"{key}={value}" for key, value in spec.quick_options.items())

        checks.run("quick options", quick_options)
    if spec.needs_options:
        def needs_options() -> str:
            unknown = [name for name in spec.needs_options if spec.option(name) is None]
            _require(not unknown, f"needs_options names {unknown}, which are not options")
            return ", ".join(spec.needs_options)

        checks.run("needs options", needs_options)
    return checks.results


def _says_its_rate(factory: Any) -> bool:
    """Whether ``factory`` is a backbone class that overrides :meth:`Backbone.input_sample_rate`."""
    from mirplug.components import Backbone

    return (isinstance(factory, type) and issubclass(factory, Backbone)
            and any("input_sample_rate" in vars(cls) for cls in factory.__mro__ if cls is not Backbone))


def _missing_needs(spec: ComponentSpec, options: Mapping[str, Any] | None) -> str | None:
    """The first of ``spec.needs_options`` when none of them is given (the component cannot be built), else None."""
    given = {**spec.quick_options, **(options or {})}
    if spec.needs_options and not any(given.get(name) not in (None, "") for name in spec.needs_options):
        return spec.needs_options[0]
    return None


def probe_features(waves: Any, sample_rate: int) -> tuple[Any, float]:
    """The core's own time-frequency features for checking backbones and feature augmenters:
    32-band log-mel ``(batch, 32, frames)`` and its frame rate (``sample_rate / 256``)."""
    from mirplug.quality import LOG_MEL_HOP, log_mel

    return log_mel(waves, sample_rate, n_mels=32), sample_rate / LOG_MEL_HOP


# --------------------------------------------------------------------------------------
# Representations
# --------------------------------------------------------------------------------------
def check_representation(spec: ComponentSpec, options: Mapping[str, Any] | None = None) -> list[CheckResult]:
    """Build the representation and check shape, dtype, finiteness, determinism and batching."""
    import torch

    from mirplug.components import Representation

    checks = _Checks(f"representation:{spec.name}")
    built: dict[str, Any] = {}

    def build() -> str:
        module = spec.build(_options(spec, options))
        _require(isinstance(module, Representation), f"the factory returned {type(module).__name__}, "
                 f"not a mirplug.Representation")
        _require(isinstance(module.sample_rate, int) and module.sample_rate > 0,
                 f"sample_rate={module.sample_rate!r} must be a positive int")
        built["module"] = module.eval()
        return f"sample_rate={module.sample_rate}, frame_rate={module.frame_rate}"

    if not checks.run("builds", build):
        return checks.results
    module = built["module"]
    waves = sample_waveforms(module.sample_rate)

    def shape() -> str:
        with torch.no_grad():
            out = module(waves)
        _float32(out, "output")
        _require(out.dim() in (2, 3), f"output has shape {tuple(out.shape)}; expected (batch, channels, frames) "
                 f"or (batch, dim)")
        _require(out.shape[0] == BATCH, f"output batch is {out.shape[0]}, input batch {BATCH}")
        if out.dim() == 3:
            _require(module.frame_rate is not None and module.frame_rate > 0,
                     "(batch, channels, frames) output needs a positive frame_rate")
            expected = SECONDS * module.frame_rate
            _require(abs(out.shape[2] - expected) <= 0.1 * expected + 2,
                     f"{out.shape[2]} frames for {SECONDS:g} s at frame_rate={module.frame_rate:g} "
                     f"(expected about {expected:.0f})")
        else:
            _require(module.frame_rate is None, "clip-level (batch, dim) output must have frame_rate=None")
        built["out"] = out
        return f"{tuple(out.shape)} float32"

    if not checks.run("shape and dtype", shape):
        return checks.results
    out = built["out"]
    checks.run("no NaN", lambda: _finite(out, "output"))

    def silence() -> None:
        with torch.no_grad():
            _finite(module(torch.zeros_like(waves)), "output on silence")

    checks.run("no NaN on silence", silence)

    def deterministic() -> None:
        with torch.no_grad():
            _close(out, module(waves), "two calls on the same input")

    checks.run("deterministic", deterministic)

    def batch_equals_items() -> None:
        with torch.no_grad():
            items = torch.cat([module(waves[i:i + 1]) for i in range(BATCH)])
        _close(out, items, "batch vs items one by one")

    checks.run("batch equals items", batch_equals_items)
    return checks.results


# --------------------------------------------------------------------------------------
# Backbones
# --------------------------------------------------------------------------------------
def _backbone_input(spec: BackboneSpec, catalog: Catalog,
                    options: Mapping[str, Any] | None = None) -> tuple[Any, tuple[int, ...], float | None]:
    """Features to feed the backbone: raw waveform ``(batch, 1, time)`` if it expects one, else
    :func:`probe_features` (averaged over time into one vector per clip for a backbone that expects vectors)."""
    from mirplug.components import RawWaveform

    if spec.expects == "waveform":
        representation = RawWaveform(spec.input_sample_rate(_options(spec, options)) or 16000)
        features = representation(sample_waveforms(representation.sample_rate, seconds=2 * SECONDS))
        return features, tuple(features.shape[1:]), representation.frame_rate
    features, frame_rate = probe_features(sample_waveforms(16000, seconds=2 * SECONDS), 16000)
    if spec.expects == "vector":
        return features.mean(dim=-1), tuple(features.shape[1:2]), None
    return features, tuple(features.shape[1:]), frame_rate


def check_backbone(spec: ComponentSpec, catalog: Catalog, options: Mapping[str, Any] | None = None) -> list[CheckResult]:
    """Build the backbone on real features and check embedding shape, dtype, finiteness, determinism, batching."""
    import torch

    from mirplug.components import Backbone

    assert isinstance(spec, BackboneSpec)
    checks = _Checks(f"backbone:{spec.name}")
    built: dict[str, Any] = {}
    # A backbone that loads a model it is given can only be checked with one (BackboneSpec.needs_options).
    missing = _missing_needs(spec, options)
    if missing:
        checks.skip("builds", f"needs backbone.{missing}=... (pass options to check it)")
        return checks.results

    def build() -> str:
        features, input_shape, frame_rate = _backbone_input(spec, catalog, options)
        torch.manual_seed(0)
        module = spec.build(_options(spec, options), input_shape=input_shape, frame_rate=frame_rate)
        _require(isinstance(module, Backbone), f"the factory returned {type(module).__name__}, "
                 f"not a mirplug.Backbone")
        _require(hasattr(module, "embedding_dim"), "the backbone does not set embedding_dim (Backbone contract)")
        _require(isinstance(module.embedding_dim, int) and module.embedding_dim > 0,
                 f"embedding_dim={module.embedding_dim!r} must be a positive int")
        built.update(module=module.eval(), features=features)
        return f"input {input_shape}, embedding_dim={module.embedding_dim}"

    if not checks.run("builds", build):
        return checks.results
    module, features = built["module"], built["features"]

    def shape() -> str:
        with torch.no_grad():
            out = module(features)
        _float32(out, "embedding")
        _require(tuple(out.shape) == (BATCH, module.embedding_dim),
                 f"embedding shape {tuple(out.shape)}, expected {(BATCH, module.embedding_dim)}")
        built["out"] = out
        return f"{tuple(out.shape)} float32"

    if not checks.run("shape and dtype", shape):
        return checks.results
    out = built["out"]
    checks.run("no NaN", lambda: _finite(out, "embedding"))

    def deterministic() -> None:
        with torch.no_grad():
            _close(out, module(features), "two calls in eval mode")

    checks.run("deterministic", deterministic)

    def batch_equals_items() -> None:
        with torch.no_grad():
            items = torch.cat([module(features[i:i + 1]) for i in range(BATCH)])
        _close(out, items, "batch vs items one by one")

    checks.run("batch equals items", batch_equals_items)

    def trainable() -> str:
        if module.frozen:
            return "frozen by design: only the head trains"
        # The head trains through the backbone: gradients must reach its parameters, or, for a
        # parameter-free backbone (e.g. linear), at least its input.
        inputs = features.clone().requires_grad_(True)
        module.train()
        try:
            module(inputs).sum().backward()
        finally:
            module.eval()
        with_grad = [p for p in module.parameters() if p.grad is not None]
        if not list(module.parameters()):
            _require(inputs.grad is not None, "the output does not depend differentiably on the input")
            return "no parameters; gradients reach the input"
        _require(bool(with_grad), "no parameter receives a gradient")
        return f"{len(with_grad)} parameter tensor(s) get gradients"

    checks.run("gradients flow", trainable)
    if module.frame_rate is not None:
        def frames() -> str:
            with torch.no_grad():
                framed = module.frames(features)
            _float32(framed, "frame embeddings")
            _require(framed.dim() == 3 and framed.shape[0] == BATCH and framed.shape[2] == module.embedding_dim,
                     f"frame embeddings shape {tuple(framed.shape)}, expected (batch, frames, {module.embedding_dim})")
            _finite(framed, "frame embeddings")
            return f"{tuple(framed.shape)}"

        checks.run("frame embeddings", frames)
    return checks.results


# --------------------------------------------------------------------------------------
# Augmenters
# --------------------------------------------------------------------------------------
def check_generator(spec: AugmenterSpec, options: Mapping[str, Any] | None = None) -> list[CheckResult]:
    """Fit a generator (with its spec's ``quick_options``) on two tiny classes; check sampling, seeding,
    the log-mel its quality report uses and a save/load round trip."""
    import tempfile

    import torch

    from mirplug.components import Generator

    checks = _Checks(f"augmenter:{spec.name}")
    sample_rate, names = 16000, ["tone", "noise"]
    generator_ = torch.Generator().manual_seed(0)
    time = torch.arange(sample_rate) / sample_rate
    tones = torch.stack([0.5 * torch.sin(2 * torch.pi * (220 + 30 * i) * time) for i in range(4)])
    waves = torch.cat([tones, 0.3 * torch.randn(4, sample_rate, generator=generator_)])
    labels = torch.tensor([0] * 4 + [1] * 4)
    built: dict[str, Any] = {}

    def fit() -> str:
        generator = spec.build(_options(spec, options))
        _require(isinstance(generator, Generator), f"the factory returned {type(generator).__name__}, "
                 f"not a mirplug.Generator")
        summary = generator.fit(waves, labels, names, sample_rate, seed=0)
        _require(isinstance(summary, dict), f"fit_model() returned {type(summary).__name__}, not a dict summary")
        built["generator"] = generator
        return f"{summary['steps']} step(s)" if "steps" in summary else "fitted"

    if not checks.run("fits", fit):
        return checks.results
    generator = built["generator"]
    counts = {0: 2, 1: 1}

    def sampling() -> str:
        out, out_labels = generator.sample(counts, seed=3)
        _require(out.dim() == 2 and out.shape[0] == 3, f"sample gave shape {tuple(out.shape)}, want (3, time)")
        _require(out.dtype == torch.float32, f"samples have dtype {out.dtype}, not torch.float32")
        _require(bool(torch.isfinite(out).all()), "samples contain NaN or infinity")
        _require(sorted(out_labels.tolist()) == [0, 0, 1], f"labels {out_labels.tolist()} are not the requested counts")
        built["samples"] = out
        return f"{tuple(out.shape)}"

    checks.run("samples labelled waveforms", sampling)

    def seeded() -> None:
        again, _ = generator.sample(counts, seed=3)
        _require(torch.equal(again, built["samples"]), "the same seed gave different samples")

    checks.run("seeded reproducibility", seeded)

    def log_mel() -> str:
        mels = generator.log_mel(waves[:2])
        _float32(mels, "log_mel()")
        _require(mels.dim() == 3 and mels.shape[0] == 2, f"log_mel() gave shape {tuple(mels.shape)}, "
                 f"want (2, bands, frames)")
        _finite(mels, "log_mel()")
        return f"{tuple(mels.shape)}"

    checks.run("log-mel for quality reports", log_mel)

    def round_trip() -> None:
        with tempfile.TemporaryDirectory() as folder:
            generator.save(folder)
            loaded = type(generator).load(folder, names, sample_rate)
            again, _ = loaded.sample(counts, seed=3)
        _require(torch.equal(again, built["samples"]), "a saved and loaded generator samples differently")

    checks.run("save/load round trip", round_trip)
    return checks.results


def check_embedding_generator(spec: AugmenterSpec, options: Mapping[str, Any] | None = None) -> list[CheckResult]:
    """Fit an embedding-space generator on rows of two classes; check rows, labels, provenance and seeding."""
    import numpy as np

    from mirplug.components import EmbeddingGenerator

    checks = _Checks(f"augmenter:{spec.name}")
    rng = np.random.default_rng(0)
    rows = np.concatenate([rng.normal(0.0, 1.0, (5, 16)), rng.normal(4.0, 1.0, (4, 16))])
    labels = np.array([0] * 5 + [1] * 4)
    built: dict[str, Any] = {}

    def fit() -> str:
        generator = spec.build(_options(spec, dict(options or {})))
        _require(isinstance(generator, EmbeddingGenerator), f"the factory returned {type(generator).__name__}, "
                 f"not a mirplug.EmbeddingGenerator")
        built["generator"] = generator.fit(rows, labels, 2, seed=0)
        return generator.method or type(generator).__name__

    if not checks.run("fits", fit):
        return checks.results
    generator = built["generator"]
    counts = {0: 2, 1: 3}

    def sampling() -> str:
        out, out_labels, provenance = generator.sample(counts, seed=3)
        _require(out.shape == (5, 16), f"sample gave shape {out.shape}, want (5, 16)")
        _require(out.dtype == np.float32 and bool(np.isfinite(out).all()), "rows are not finite float32")
        _require(sorted(out_labels.tolist()) == [0, 0, 1, 1, 1], f"labels {out_labels.tolist()} are not the counts")
        _require(len(provenance) == 5 and all(isinstance(p, dict) for p in provenance), "one provenance dict per row")
        json.dumps(provenance)  # recorded in embedding_samples.csv
        built["rows"] = out
        return f"{out.shape}"

    checks.run("samples labelled rows with provenance", sampling)

    def seeded() -> None:
        again, _, _ = generator.sample(counts, seed=3)
        _require(np.array_equal(again, built["rows"]), "the same seed gave different rows")

    checks.run("seeded reproducibility", seeded)
    return checks.results


def check_augmenter(spec: ComponentSpec, catalog: Catalog, options: Mapping[str, Any] | None = None) -> list[CheckResult]:
    """Build the transform (with ``p=1``) and check seeding, length, dtype, range and parameters."""
    import torch

    from mirplug.components import Transform

    assert isinstance(spec, AugmenterSpec)
    checks = _Checks(f"augmenter:{spec.name}")
    if spec.stage == "generator":
        return check_generator(spec, options)
    if spec.stage == "embeddings":
        return check_embedding_generator(spec, options)
    # A transform that reads files it is given (e.g. impulse responses) can only be checked with them.
    missing = _missing_needs(spec, options)
    if missing:
        checks.skip("builds", f"needs augmenter.{missing}=... (pass options to check it)")
        return checks.results
    built: dict[str, Any] = {}

    def build() -> str:
        chosen = dict(options or {})
        if spec.option("p") is not None:
            chosen.setdefault("p", 1.0)  # apply every time, so every check sees the transform act
        transform = spec.build(_options(spec, chosen))
        _require(isinstance(transform, Transform), f"the factory returned {type(transform).__name__}, "
                 f"not a mirplug.Transform")
        _require(transform.stage == spec.stage, f"transform stage {transform.stage!r} but spec stage {spec.stage!r}")
        transform.p = 1.0  # even without a 'p' option: the checks must see the transform act
        transform.prepare(16000)  # the rate of the example below
        built["transform"] = transform
        return f"stage={spec.stage}, p={transform.p}"

    if not checks.run("builds", build):
        return checks.results
    transform: Transform = built["transform"]
    if spec.stage == "waveform":
        example = sample_waveforms(16000, batch=1)[0] * 0.5
    else:
        example = probe_features(sample_waveforms(16000, batch=1), 16000)[0][0]
    original = example.clone()

    def reproducible() -> str:
        first, params = transform(example.clone(), np.random.default_rng(7))
        second, params_again = transform(example.clone(), np.random.default_rng(7))
        _require(params == params_again, f"the same seed drew different parameters: {params} vs {params_again}")
        _require(torch.equal(first, second), "the same seed gave different outputs")
        if params is not None:
            _require(torch.equal(transform.apply(example.clone(), params), first),
                     "apply() with the recorded parameters does not reproduce the output")
        built["out"], built["params"] = first, params
        return "same seed, same output"

    if not checks.run("seeded reproducibility", reproducible):
        return checks.results
    out, params = built["out"], built["params"]

    def unchanged_input() -> None:
        _require(torch.equal(example, original), "the transform modified its input in place")

    checks.run("input untouched", unchanged_input)

    def length() -> str:
        _float32(out, "output")
        _require(tuple(out.shape) == tuple(example.shape),
                 f"output shape {tuple(out.shape)} differs from input shape {tuple(example.shape)}")
        return f"{tuple(out.shape)}"

    checks.run("output length and dtype", length)

    def value_range() -> str:
        _finite(out, "output")
        if spec.stage == "waveform":
            peak_in, peak_out = float(example.abs().max()), float(out.abs().max())
            _require(peak_out <= MAX_GAIN * peak_in,
                     f"output peak {peak_out:.3g} exceeds {MAX_GAIN:g} x the input peak {peak_in:.3g}")
            return f"peak {peak_in:.2f} -> {peak_out:.2f}"
        return "finite"

    checks.run("output range", value_range)

    def parameters() -> str:
        _require(params is None or isinstance(params, dict), "parameters must be a dict")
        return json.dumps(params, sort_keys=True) if params is not None else "not applied"

    checks.run("parameters are JSON", parameters)

    def varies() -> str:
        drawn = [transform(example.clone(), np.random.default_rng(seed)) for seed in range(8)]
        if all(p == drawn[0][1] for _, p in drawn[1:]) and all(torch.equal(drawn[0][0], o) for o, _ in drawn[1:]):
            return "nothing to draw: the same parameters for every seed (p is its only randomness)"
        _require(any(not torch.equal(drawn[0][0], o) for o, _ in drawn[1:]),
                 "eight different seeds gave the same output; the transform ignores its rng")
        return "different seeds, different outputs"

    checks.run("varies with the seed", varies)
    return checks.results


# --------------------------------------------------------------------------------------
# Tasks and datasets: a tiny end-to-end run
# --------------------------------------------------------------------------------------
def tiny_run_overrides(catalog: Catalog, task: str, data: str | None, out: Path,
                       data_options: Mapping[str, Any] | None = None) -> list[str]:
    """Overrides for a run of one epoch on as few clips as the dataset allows (its spec's ``quick_options``,
    and the task's)."""
    from mirplug.config import resolve

    overrides = [f"task={task}", "train.epochs=1", "data.max_windows=2", f"out={out}", "name=contract"]
    if data:
        overrides.append(f"data={data}")
    dataset = catalog.get("dataset", resolve(catalog, overrides).data.name)
    overrides += [f"task.{key}={value}" for key, value in catalog.get("task", task).quick_options.items()]
    for key, value in {**dataset.quick_options, **(data_options or {})}.items():
        overrides.append(f"data.{key}={value}")
    return overrides


def _end_to_end(checks: _Checks, catalog: Catalog, overrides: list[str], out: Path) -> None:
    from rich.console import Console

    from mirplug.config import resolve
    from mirplug.runner import run

    def tiny_run() -> str:
        config = resolve(catalog, overrides)
        result = run(config, catalog, Console(file=io.StringIO(), width=120))
        task = catalog.get("task", config.task.name)
        assert isinstance(task, TaskSpec)
        value = result.metrics.get(task.main_metric)
        _require(isinstance(value, float) and math.isfinite(value),
                 f"main metric {task.main_metric!r} is {value!r}, not a finite number")
        for name in ("metrics.json", "predictions.csv", "config.yaml", "history.csv"):
            _require((result.folder / name).exists(), f"the run folder lacks {name}")
        return f"{' '.join(o for o in overrides if not o.startswith('out='))}: {task.main_metric}={value:.3f}"

    checks.run("tiny end-to-end run", tiny_run)


def check_task(spec: ComponentSpec, catalog: Catalog, workdir: Path,
               data_options: Mapping[str, Any] | None = None) -> list[CheckResult]:
    """One epoch on the task's default dataset (made as small as its options allow)."""
    checks = _Checks(f"task:{spec.name}")
    overrides = tiny_run_overrides(catalog, spec.name, None, workdir / f"task-{spec.name}", data_options)
    _end_to_end(checks, catalog, overrides, workdir)
    return checks.results


def check_dataset(spec: ComponentSpec, catalog: Catalog, workdir: Path,
                  options: Mapping[str, Any] | None = None) -> list[CheckResult]:
    """Load the dataset (columns ``audio`` and ``id``), then one epoch of a task that uses it."""
    checks = _Checks(f"dataset:{spec.name}")
    missing = _missing_needs(spec, options)  # a folder or a hub id validate cannot invent (DatasetSpec.needs_options)
    if missing:
        checks.skip("tiny end-to-end run", f"needs data.{missing}=... (pass options to check it)")
        return checks.results
    task = _task_for(spec.name, catalog)
    small = dict(options or {})

    def columns() -> str:
        import datasets as hf_datasets

        loaded = spec.build(_options(spec, small), task=task)
        first = loaded["train"] if isinstance(loaded, hf_datasets.DatasetDict) else loaded
        _require(isinstance(first, hf_datasets.Dataset), f"the factory returned {type(loaded).__name__}, "
                 f"not a datasets.Dataset or DatasetDict")
        missing_columns = {"audio", "id"} - set(first.column_names)
        _require(not missing_columns, f"columns {sorted(missing_columns)} are missing")
        return f"{len(first)} rows, columns {', '.join(first.column_names[:6])}"

    if checks.run("loads with audio and id columns", columns):
        overrides = tiny_run_overrides(catalog, task, spec.name, workdir / f"dataset-{spec.name}", small)
        _end_to_end(checks, catalog, overrides, workdir)
    return checks.results


def _task_for(dataset: str, catalog: Catalog) -> str:
    """A task to run a dataset with: one whose default dataset it is, else the default task, else the first one."""
    from mirplug.config import default_task

    tasks = [s for s in (e.spec for e in catalog.all("task")) if isinstance(s, TaskSpec) and s.default_dataset == dataset]
    if tasks:
        return tasks[0].name
    try:
        return default_task(catalog)
    except MirplugError:
        return catalog.names("task")[0]


def check_logger(spec: ComponentSpec, workdir: Path, options: Mapping[str, Any] | None = None) -> list[CheckResult]:
    """Build the logger, register it as a run does, and take it through a two-epoch run of fake values.

    It must implement lifecycle hooks (and only known ones) and none may raise; what it writes goes
    into a folder under ``workdir``.
    """
    import io

    from rich.console import Console

    from mirplug.lifecycle import Lifecycle
    from mirplug.plugins import new_manager

    checks = _Checks(f"logger:{spec.name}")
    built: dict[str, Any] = {}

    def build() -> str:
        built["logger"] = spec.build(_options(spec, options))
        return type(built["logger"]).__name__

    def lifecycle() -> str:
        folder = workdir / f"logger-{spec.name}"
        folder.mkdir(parents=True, exist_ok=True)
        output = io.StringIO()
        manager = new_manager()
        with Lifecycle(manager, Console(file=output, width=300), [(spec.name, built["logger"])]) as hooks:
            hooks.run_start({"task": {"name": "contract-check"}, "seed": 0}, folder)  # a stand-in config
            for epoch in (1, 2):
                record = {"epoch": epoch, "train_loss": 1.0 / epoch, "validation_loss": 1.2 / epoch,
                          "validation_macro_f1": 0.3 * epoch}
                hooks.epoch_end(folder, 1, record, "macro_f1")
            metrics = {"macro_f1": 0.6, "accuracy": 0.7, "validation": {"macro_f1": 0.6}, "n_test": 2}
            hooks.evaluation_end(folder, 1, metrics, [{"id": "a", "label": "x"}, {"id": "b", "label": "y"}])
            extra = hooks.run_metrics(folder, metrics)
            hooks.run_end(folder, {**metrics, **({"plugins": extra} if extra else {})}, "finished")
            implemented = sorted(caller.name for caller in manager.get_hookcallers(built["logger"]) or [])
        _require(not hooks.reported, output.getvalue().strip())
        return f"implements {', '.join(implemented)}" if implemented else ""

    if checks.run("builds with its default options", build):
        checks.run("registers and takes a run's lifecycle without an error", lifecycle)
    return checks.results


# --------------------------------------------------------------------------------------
# Components and plugins
# --------------------------------------------------------------------------------------
def check_component(kind: str, name: str, catalog: Catalog | None = None, options: Mapping[str, Any] | None = None,
                    workdir: Path | None = None) -> list[CheckResult]:
    """Every check that applies to the component ``name`` of ``kind``: spec metadata, then its contract."""
    if kind not in KINDS:
        raise MirplugError(f"unknown kind '{kind}'; choose one of: {', '.join(KINDS)}")
    catalog = catalog or load_catalog()
    spec = catalog.get(kind, name)
    results = check_spec(spec)
    if not all(r.passed for r in results if r.check == "factory"):
        return results  # nothing can be built without its factory
    with _WorkDir(workdir) as folder:
        if kind == "representation":
            results += check_representation(spec, options)
        elif kind == "backbone":
            results += check_backbone(spec, catalog, options)
        elif kind == "augmenter":
            results += check_augmenter(spec, catalog, options)
        elif kind == "task":
            results += check_task(spec, catalog, folder, options)
        elif kind == "logger":
            results += check_logger(spec, folder, options)
        else:
            results += check_dataset(spec, catalog, folder, options)
    return results


class _WorkDir:
    """The given folder, or a temporary one removed afterwards."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.temporary: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Path:
        if self.folder is not None:
            return self.folder
        self.temporary = tempfile.TemporaryDirectory(prefix="mirplug-validate-")
        return Path(self.temporary.name)

    def __exit__(self, *exc: object) -> None:
        if self.temporary is not None:
            self.temporary.cleanup()


def plugin_components(catalog: Catalog, plugin: str) -> list[tuple[str, str]]:
    """``(kind, qualified name)`` of every component the plugin (entry-point or distribution name) registers."""
    names = {plugin} | {p.name for p in catalog.host.plugins.values() if p.distribution == plugin}
    return [(kind, f"{entry.plugin}:{entry.spec.name}") for kind in KINDS for entry in catalog.all(kind)
            if entry.plugin in names]


def check_plugin(plugin: str, catalog: Catalog | None = None, workdir: Path | None = None) -> list[CheckResult]:
    """Every check on every component of ``plugin``; a plugin that failed to load is one failed check."""
    from mirplug.errors import PluginError, choices_text

    catalog = catalog or load_catalog()
    failures = [f for f in catalog.failures if plugin in (f.name, f.distribution)]
    results = [CheckResult(f"plugin:{f.name}", f"loads ({f.stage})", FAIL, f.error) for f in failures]
    components = plugin_components(catalog, plugin)
    if not components and not failures:
        known = {p.name for p in catalog.host.plugins.values()}
        if plugin in known:
            raise PluginError(f"plugin '{plugin}' registers no components; nothing to validate")
        raise PluginError(f"no plugin called '{plugin}' is installed; installed plugins: {choices_text(known)}")
    for kind, name in components:
        results += check_component(kind, name, catalog, workdir=workdir)
    return results


def failures_text(results: list[CheckResult]) -> str:
    """The failed checks, one per line, for an assertion message."""
    return "\n".join(f"{r.component}: {r.check}: {r.detail}" for r in results if not r.passed)


def assert_component_passes(kind: str, name: str, catalog: Catalog | None = None,
                            options: Mapping[str, Any] | None = None, workdir: Path | None = None) -> list[CheckResult]:
    """Run :func:`check_component`; raise :class:`AssertionError` listing every failed check."""
    results = check_component(kind, name, catalog, options, workdir)
    if not all(r.passed for r in results):
        raise AssertionError(f"{kind} '{name}' breaks its contract:\n{failures_text(results)}")
    return results


def assert_plugin_passes(plugin: str, catalog: Catalog | None = None, workdir: Path | None = None) -> list[CheckResult]:
    """Run :func:`check_plugin`; raise :class:`AssertionError` listing every failed check."""
    results = check_plugin(plugin, catalog, workdir)
    if not all(r.passed for r in results):
        raise AssertionError(f"plugin '{plugin}' breaks the contract:\n{failures_text(results)}")
    return results


def results_table(results: list[CheckResult], title: str) -> Any:
    """A rich table of the results: component, check, pass/fail/skip, detail."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("component", "check", "result", "detail"):
        table.add_column(column, overflow="fold")
    style = {PASS: "[green]pass[/]", FAIL: "[bold red]FAIL[/]", SKIP: "[yellow]skip[/]"}
    for r in results:
        table.add_row(escape(r.component), escape(r.check), style[r.status], escape(r.detail))
    return table


# --------------------------------------------------------------------------------------
# pytest fixtures (``pytest_plugins = ["mirplug.testing"]``)
# --------------------------------------------------------------------------------------
try:
    import pytest
except ImportError:  # pytest is only needed by test suites, not by ``mirplug validate``
    pytest = None  # type: ignore[assignment]

if pytest is not None:
    __all__ += ["mirplug_catalog", "mirplug_check"]

    @pytest.fixture
    def mirplug_catalog() -> Catalog:
        """A freshly loaded catalog of every installed plugin."""
        return load_catalog()

    @pytest.fixture
    def mirplug_check(mirplug_catalog: Catalog, tmp_path: Path) -> Iterator[Callable[..., list[CheckResult]]]:
        """``check(kind, name, options=None)``: run the contract checks; fail the test on any failure."""

        def check(kind: str, name: str, options: Mapping[str, Any] | None = None) -> list[CheckResult]:
            return assert_component_passes(kind, name, mirplug_catalog, options, tmp_path)

        yield check
