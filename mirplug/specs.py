"""Component specs: the small frozen descriptions every plugin hook returns.

A spec names a component, says what it does in one line, lists its typed options with
defaults, and points at a *lazy* factory (``"package.module:attribute"``) that is only
imported when the component is built. Listing plugins therefore never imports torch.

Internal module: plugin authors import the specs and ``Option`` from :mod:`mirplug`, which is the
stable API; everything else here may change in any release.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mirplug.errors import ConfigError, EnvironmentBrokenError, MirplugError, PluginError, choices_text

OptionType = type[int] | type[float] | type[bool] | type[str]
KINDS: tuple[str, ...] = ("representation", "backbone", "augmenter", "task", "dataset", "logger")
# What a backbone spec may declare in ``expects`` (see :class:`BackboneSpec`).
BACKBONE_INPUTS: tuple[str | None, ...] = (None, "frames", "vector", "waveform")

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclass(frozen=True, kw_only=True)
class Option:
    """One typed option of a component, e.g. ``Option(name="n_mels", type=int, default=64)``.

    ``choices`` restricts a value to a set; ``minimum``/``maximum`` bound numbers
    (inclusive). A float option refuses ``nan`` and ``inf`` unless ``allow_nonfinite=True``, and
    a value so small that it would become 0 (``1e-400``). Give a ``maximum`` wherever a large
    value would exhaust memory or time. ``default=None`` means "not set" (the component decides).
    """

    name: str
    type: OptionType
    default: Any
    help: str = ""
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    allow_nonfinite: bool = False

    def coerce(self, value: Any, where: str) -> Any:
        """Convert ``value`` (often a string from the command line) to this option's type.

        ``where`` is the dotted key, used in the error message.
        """
        if value is None:
            return None
        if isinstance(value, str) and value.lower() in {"none", "null"} and self.default is None:
            return None
        expected = self.type.__name__
        try:
            if self.type is bool:
                if isinstance(value, bool):
                    converted: Any = value
                elif str(value).lower() in _TRUE:
                    converted = True
                elif str(value).lower() in _FALSE:
                    converted = False
                else:
                    raise ValueError(value)
            elif self.type is int:
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError(value)
                converted = int(str(value)) if isinstance(value, str) else int(value)
            elif self.type is float:
                if isinstance(value, bool):
                    raise ValueError(value)
                converted = float(value)
            else:
                converted = str(value)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{where}={value!r} is not a valid {expected}") from None
        if self.type is float:
            if not math.isfinite(converted) and not self.allow_nonfinite:
                raise ConfigError(f"{where}={value!r} is not a finite number; give a finite {expected}"
                                  f"{self._range_text()}")
            if converted == 0.0 and _nonzero_text(value):
                raise ConfigError(f"{where}={value!r} is too small to be represented (it would become 0); "
                                  f"give a larger value{self._range_text()}")
        if self.choices is not None and converted not in self.choices:
            raise ConfigError(
                f"{where}={value!r} is not allowed; choose one of: "
                f"{choices_text(str(c) for c in self.choices)}"
            )
        if self.type in (int, float) and not (isinstance(converted, float) and math.isnan(converted)):
            if self.minimum is not None and converted < self.minimum:
                raise ConfigError(f"{where}={value!r} is below the minimum {_number(self.minimum)}")
            if self.maximum is not None and converted > self.maximum:
                raise ConfigError(f"{where}={value!r} is above the maximum {_number(self.maximum)}")
        return converted

    def _range_text(self) -> str:
        """`` (0 to 0.5)`` style hint of the valid range, or an empty string."""
        low = None if self.minimum is None else _number(self.minimum)
        high = None if self.maximum is None else _number(self.maximum)
        if low and high:
            return f" ({low} to {high})"
        if low:
            return f" (at least {low})"
        return f" (at most {high})" if high else ""


def _number(value: float) -> str:
    """A limit as the user would type it: ``4294967295``, ``0.5``, ``1e-05``."""
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:g}"


def _nonzero_text(value: Any) -> bool:
    """Whether ``value`` (as typed) is a non-zero number, so a conversion to 0.0 lost it (underflow)."""
    from decimal import Decimal, InvalidOperation

    try:
        exact = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return False
    return exact.is_finite() and exact != 0


# Options every dataset shares, in the ``data`` section next to the dataset's own (mirplug.config resolves
# them; mirplug.catalog refuses a dataset option of the same name).
DATA_OPTIONS: tuple[Option, ...] = (
    Option(name="clip_seconds", type=float, default=3.0, minimum=0.05, maximum=600.0,
           help="window length: longer clips are cut into windows whose predictions are averaged"),
    Option(name="max_windows", type=int, default=10, minimum=1, maximum=10_000, help="at most this many windows per clip"),
    Option(name="max_seconds", type=float, default=600.0, minimum=1.0, maximum=86_400.0,  # audio.DEFAULT_MAX_SECONDS
           help="longest clip decoded, judged from its header before decoding; longer clips are skipped "
                "(skipped.csv says so), as they would take this much memory"),
    Option(name="cache_windows", type=bool, default=True,
           help="keep decoded windows in the cache so another representation skips decoding (16 kHz: ~230 MB "
                "per hour of audio); false saves that disk"),
    Option(name="imbalance", type=float, default=1.0, minimum=1.0, maximum=10_000.0,
           help="long-tailed training split: the last label keeps 1/R of its clips, the others in between"),
    Option(name="per_class", type=int, default=None, minimum=1, maximum=1_000_000,
           help="low-resource protocol: keep at most this many training clips per label (drawn with the seed)"),
)


@dataclass(frozen=True, kw_only=True)
class ComponentSpec:
    """What every component shares: name, summary, lazy factory, options, license, citation.

    ``factory`` is either ``"module:attribute"`` (imported on first use) or a callable.
    The factory is called with the resolved options as keyword arguments plus the
    kind-specific context documented on each subclass.

    ``quick_options`` are option values that make the component cheap enough for the contract
    checks of ``mirplug validate`` (e.g. ``{"steps": 3}`` for a generator that trains for
    ``steps``, ``{"clips_per_class": 6}`` for a generated dataset); options given to a check
    override them. ``needs_options`` names options the component cannot be built without, one
    of which must be given (a model id, a folder): ``mirplug validate`` skips the checks that
    build it unless one is given, and says which.
    """

    kind: str = field(init=False, default="")
    name: str
    summary: str
    factory: str | Callable[..., Any]
    options: tuple[Option, ...] = ()
    license: str = "unknown"
    citation: str = ""
    quick_options: Mapping[str, Any] = field(default_factory=dict)
    needs_options: tuple[str, ...] = ()

    def option(self, name: str) -> Option | None:
        """The option called ``name``, or ``None``."""
        for opt in self.options:
            if opt.name == name:
                return opt
        return None

    def option_defaults(self) -> dict[str, Any]:
        """The default value of every option."""
        return {opt.name: opt.default for opt in self.options}

    def load_factory(self) -> Callable[..., Any]:
        """Import and return the factory; a failure names the component and what to do.

        When the import fails because a compiled dependency does not load (torchaudio built for another
        torch, say), the error says so instead of blaming the plugin.
        """
        if callable(self.factory):
            return self.factory
        module_name, _, attribute = self.factory.partition(":")
        try:
            module = importlib.import_module(module_name)
            return getattr(module, attribute)
        except Exception as exc:  # a broken plugin must not look like a mirplug bug
            from mirplug.environment import broken_environment

            broken = broken_environment()
            if broken is not None:
                raise EnvironmentBrokenError(broken) from exc
            raise PluginError(
                f"{self.kind} '{self.name}' cannot be loaded from {self.factory}: "
                f"{type(exc).__name__}: {exc}; reinstall the plugin that provides it"
            ) from exc

    def build(self, options: Mapping[str, Any], **context: Any) -> Any:
        """Build the component from resolved ``options`` and kind-specific ``context``.

        A factory that rejects its options with anything but a :class:`MirplugError` (a
        ``ValueError`` from a library, say) becomes a :class:`ConfigError` naming the component
        and its options, so a bad combination of values stops the run in one line before any
        work; ``MIRPLUG_DEBUG=1`` still shows the original traceback.
        """
        factory = self.load_factory()
        try:
            return factory(**dict(options), **context)
        except MirplugError:
            raise
        except Exception as exc:
            if isinstance(exc, (ImportError, OSError)):
                from mirplug.environment import broken_environment

                broken = broken_environment()
                if broken is not None:
                    raise EnvironmentBrokenError(broken) from exc
            given = ", ".join(f"{key}={value}" for key, value in options.items())
            detail = (str(exc).strip().splitlines() or [""])[0]
            raise ConfigError(
                f"{self.kind} '{self.name}' cannot be built with {given or 'its defaults'} "
                f"({type(exc).__name__}: {detail}); change its options (see 'mirplug list {self.kind}s')"
            ) from exc


@dataclass(frozen=True, kw_only=True)
class RepresentationSpec(ComponentSpec):
    """A representation: waveform ``(batch, time)`` -> features.

    The factory returns a :class:`mirplug.components.Representation`.
    """

    kind: str = field(init=False, default="representation")


@dataclass(frozen=True, kw_only=True)
class BackboneSpec(ComponentSpec):
    """A backbone: features -> embeddings.

    ``expects`` says which features the backbone takes: ``None`` any representation's,
    ``"frames"`` only time-frequency features ``(channels, frames)`` (a convolution over time),
    ``"vector"`` only clip-level vectors ``(dim,)`` (representations with ``frame_rate = None``),
    or ``"waveform"`` when the backbone brings its own front end and wants raw audio at
    ``sample_rate``. A run checks it against the representation before any audio is decoded,
    and with the backbone left to the task's default picks one that fits. The factory
    is called with the options plus ``input_shape`` (the shape of one example's features)
    and ``frame_rate`` (features per second, or ``None`` for clip-level features) and
    returns a :class:`mirplug.components.Backbone`.

    ``head_options`` names the options that change only the head put on top (e.g. one that
    sets :attr:`~mirplug.components.Backbone.head_kind`), not the embeddings: a frozen
    backbone's cached embeddings are shared across their values.
    """

    kind: str = field(init=False, default="backbone")
    expects: str | None = None
    sample_rate: int | None = None
    head_options: tuple[str, ...] = ()

    def input_sample_rate(self, options: Mapping[str, Any]) -> int | None:
        """The sample rate (Hz) of the waveform a backbone with ``expects="waveform"`` takes with ``options``.

        The spec's ``sample_rate``, else what the factory's
        :meth:`~mirplug.components.Backbone.input_sample_rate` says (a rate that depends on the
        options, e.g. on the model loaded), else ``None``.
        """
        if self.sample_rate:
            return self.sample_rate
        from mirplug.components import Backbone

        factory = self.load_factory()
        if isinstance(factory, type) and issubclass(factory, Backbone):
            return factory.input_sample_rate(options)
        return None


@dataclass(frozen=True, kw_only=True)
class AugmenterSpec(ComponentSpec):
    """An augmenter. ``stage`` says where it acts.

    ``"waveform"`` and ``"features"`` augmenters are seeded transforms applied per example
    during training (the factory returns a :class:`mirplug.components.Transform`);
    ``"generator"`` augmenters are fitted on the training split and then sampled;
    ``"embeddings"`` augmenters are generators in a frozen backbone's embedding space, fitted on
    the training split's embeddings and sampled as new embedding rows (the factory returns a
    :class:`mirplug.components.EmbeddingGenerator`).
    """

    kind: str = field(init=False, default="augmenter")
    stage: Literal["waveform", "features", "generator", "embeddings"] = "waveform"


@dataclass(frozen=True, kw_only=True)
class TaskSpec(ComponentSpec):
    """A task: label kind, default dataset and components, head, loss and metrics.

    ``defaults`` holds the overrides a run starts from: the components (``{"representation": "mel",
    "backbone": "cnn"}``; a run of a task without them must be given ``representation=`` and
    ``backbone=``) and dotted keys (``"representation.n_fft": "2048"``) that apply only when the
    chosen component has that option. ``default_dataset`` is the dataset a run uses without
    ``data=`` (``None``: ``data=`` must be given). ``run_by_default`` marks the task ``mirplug run``
    uses without ``task=`` (when several installed tasks say so, mirplug's own wins, else
    ``task=`` must be given). ``recorded_defaults`` go over ``defaults`` when the run reads a dataset
    other than ``default_dataset`` (the user's recordings rather than a built-in synthetic set) and the
    user chose no backbone, ``backbone.*`` option or representation: a model suited to real audio, e.g.
    ``{"backbone": "musicnn", "backbone.head": "probe"}``. The factory returns a
    :class:`mirplug.components.Task`.
    """

    kind: str = field(init=False, default="task")
    label_kind: Literal["single-label", "multi-label", "regression", "frame-events"] = "single-label"
    metrics: tuple[str, ...] = ()
    main_metric: str = "macro_f1"
    default_dataset: str | None = None
    defaults: Mapping[str, str] = field(default_factory=dict)
    run_by_default: bool = False
    recorded_defaults: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DatasetSpec(ComponentSpec):
    """A dataset: a name plus options -> a ``datasets.Dataset`` or ``DatasetDict``.

    The factory is called with the options plus ``task`` (the task name) and returns a
    dataset with an ``audio`` column (``datasets.Audio(decode=False)``), an ``id`` column and
    the label column(s) the task needs. A ``DatasetDict`` with ``train``/``validation``/
    ``test`` splits is used as given.
    """

    kind: str = field(init=False, default="dataset")


@dataclass(frozen=True, kw_only=True)
class LoggerSpec(ComponentSpec):
    """A logger: an experiment tracker a run reports to when chosen with ``logger=NAME``.

    The factory is called with the resolved options and returns a plugin object whose methods
    implement lifecycle hooks of :mod:`mirplug.hookspecs` with ``@hookimpl`` (``mirplug_run_start``,
    ``mirplug_epoch_end``, ``mirplug_evaluation_end``, ``mirplug_run_metrics``, ``mirplug_run_end``).
    A run builds each chosen logger before it touches data, registers the object for the run's
    duration (so pluggy's ordering and wrappers apply as to any plugin) and unregisters it at the end.
    """

    kind: str = field(init=False, default="logger")


SPEC_CLASSES: dict[str, type[ComponentSpec]] = {
    "representation": RepresentationSpec,
    "backbone": BackboneSpec,
    "augmenter": AugmenterSpec,
    "task": TaskSpec,
    "dataset": DatasetSpec,
    "logger": LoggerSpec,
}
