"""The typed run configuration: a task's defaults plus ``key=value`` overrides.

Overrides come from the command line as ``key=value`` strings::

    task=genre backbone=cnn backbone.channels=32 train.epochs=5 augmenter=gain,noise seed=3

``task``, ``data``, ``representation``, ``backbone``, ``augmenter`` and ``logger`` choose components;
a dotted key sets an option of the chosen component (``augmenter.NAME.OPTION`` chooses one
of several augmenters, ``logger.NAME.OPTION`` one of several loggers) or of a core section (``train``, ``split``, ``data``). Every value is
coerced to the declared type; unknown keys and bad values raise :class:`ConfigError`
naming the valid choices, before any work starts.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mirplug.catalog import Catalog
from mirplug.errors import ConfigError, choices_text, did_you_mean
from mirplug.specs import DATA_OPTIONS, AugmenterSpec, Option, TaskSpec

SELECTORS = ("task", "data", "representation", "backbone", "augmenter", "logger")
LISTED = ("augmenter", "logger")  # selectors that take a comma-separated list of components
SCALARS: dict[str, Option] = {
    "seed": Option(name="seed", type=int, default=0, minimum=0, maximum=2**32 - 1,
                   help="seed of the split, the model and the augmenters (0 to 2**32-1, as numpy and sklearn take)"),
    "out": Option(name="out", type=str, default="runs", help="folder in which run folders are created"),
    "name": Option(name="name", type=str, default=None,
                   help="run folder name inside out (default: <timestamp>-<task>); no path separators or '..'"),
}
SECTIONS: dict[str, tuple[Option, ...]] = {
    "train": (
        Option(name="epochs", type=int, default=30, minimum=1, maximum=100_000, help="maximum number of epochs"),
        Option(name="batch_size", type=int, default=32, minimum=1, maximum=65_536, help="examples per batch"),
        Option(name="lr", type=float, default=2e-3, minimum=0.0, maximum=10.0, help="AdamW learning rate"),
        Option(name="weight_decay", type=float, default=1e-4, minimum=0.0,
               help="AdamW weight decay (decoupled: each step scales the weights by 1 - lr * weight_decay, "
                    "so lr * weight_decay must stay below 1)"),
        Option(name="patience", type=int, default=6, minimum=1, maximum=100_000,
               help="epochs without validation gain before stopping"),
        Option(name="min_steps", type=int, default=0, minimum=0, maximum=10_000_000,
               help="no early stopping before this many optimizer steps; the epoch limit grows to reach them "
                    "(few-label runs: an epoch of 30 clips is one step)"),
        Option(name="mixup_alpha", type=float, default=0.0, minimum=0.0, maximum=100.0,
               help="mixup: train on convex mixtures of pairs of examples and of their targets, the weight drawn "
                    "from Beta(alpha, alpha) per batch (0: off; 0.2 to 0.4 are usual); single- and multi-label tasks"),
        Option(name="device", type=str, default="auto", choices=("auto", "cpu", "cuda", "mps"), help="torch device"),
        Option(name="threads", type=int, default=0, minimum=0, maximum=1024,
               help="torch CPU threads (0: torch's default)"),
        Option(name="processes", type=int, default=1, minimum=1, maximum=1024,
               help="data-parallel training processes on this machine: mirplug run starts torchrun with them "
                    "(DistributedDataParallel; gloo on CPUs, NCCL on GPUs); train.batch_size stays the global batch"),
        Option(name="precision", type=str, default="fp32", choices=("fp32", "bf16", "fp16"),
               help="autocast precision of the trained model's forward passes and of frozen embeddings (bf16: "
                    "recent GPUs and CPUs; fp16: GPUs, with a gradient scaler)"),
    ),
    "eval": (
        Option(name="folds", type=int, default=1, minimum=1, maximum=100,
               help="k-fold cross-validation: each fold is the test set once (1: one train/validation/test split)"),
        Option(name="fad_backbone", type=str, default="auto",
               help="embeddings for the Fréchet distance of synthetic clips: a frozen pretrained backbone, "
                    "'logmel' (time-pooled log-mel statistics) or 'auto' (the run's backbone when it is frozen "
                    "and pretrained, else logmel)"),
    ),
    "split": (
        Option(name="validation", type=float, default=0.15, minimum=0.0, maximum=0.5, help="validation fraction"),
        Option(name="test", type=float, default=0.2, minimum=0.0, maximum=0.5, help="test fraction"),
    ),
}


@dataclass
class Selection:
    """A chosen component and its resolved options."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``config.yaml``."""
        return {"name": self.name, **self.options}


@dataclass
class RunConfig:
    """Everything a run needs, fully resolved; ``to_dict`` is enough to rerun it.

    ``backbone_default`` (not saved) says the backbone is the task's default, not the user's choice;
    ``representation_default`` the same for the representation.
    ``loggers`` are saved only when some are chosen, so the config of a run without one reads as before.
    """

    task: Selection
    data: Selection
    representation: Selection
    backbone: Selection
    augmenters: list[Selection]
    train: dict[str, Any]
    split: dict[str, Any]
    eval: dict[str, Any] = field(default_factory=lambda: {"folds": 1})
    loggers: list[Selection] = field(default_factory=list)
    seed: int = 0
    out: str = "runs"
    name: str | None = None
    backbone_default: bool = field(default=False, compare=False, repr=False)
    representation_default: bool = field(default=False, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``config.yaml``."""
        return {
            "task": self.task.to_dict(),
            "data": self.data.to_dict(),
            "representation": self.representation.to_dict(),
            "backbone": self.backbone.to_dict(),
            "augmenter": [a.to_dict() for a in self.augmenters],
            **({"logger": [a.to_dict() for a in self.loggers]} if self.loggers else {}),
            "train": dict(self.train),
            "split": dict(self.split),
            "eval": dict(self.eval),
            "seed": self.seed,
            "out": self.out,
            "name": self.name,
        }

    def overrides(self) -> list[str]:
        """This config as ``key=value`` overrides (the inverse of :func:`resolve`)."""
        result = [f"task={self.task.name}", f"data={self.data.name}",
                  f"representation={self.representation.name}", f"backbone={self.backbone.name}",
                  f"augmenter={','.join(a.name for a in self.augmenters)}"]
        if self.loggers:
            result.append(f"logger={','.join(a.name for a in self.loggers)}")
        for section, selection in (("task", self.task), ("data", self.data),
                                   ("representation", self.representation), ("backbone", self.backbone)):
            result += [f"{section}.{k}={v}" for k, v in selection.options.items() if v is not None]
        for head, listed in (("augmenter", self.augmenters), ("logger", self.loggers)):
            for item in listed:
                result += [f"{head}.{item.name}.{k}={v}" for k, v in item.options.items() if v is not None]
        for section in SECTIONS:  # RunConfig has one field per section
            result += [f"{section}.{k}={v}" for k, v in getattr(self, section).items() if v is not None]
        result += [f"seed={self.seed}", f"out={self.out}"]
        if self.name:
            result.append(f"name={self.name}")
        return result


def parse_overrides(items: Iterable[str]) -> list[tuple[str, str]]:
    """Split ``key=value`` strings; anything else is a :class:`ConfigError`."""
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override '{item}' is not of the form key=value (e.g. train.epochs=5)")
        pairs.append((key, value.strip()))
    return pairs


def config_from_dict(data: Mapping[str, Any], where: str = "the config") -> list[str]:
    """Turn a saved ``config.yaml`` mapping into overrides, so it resolves like the CLI.

    The layout is checked first (``where`` names the file in errors): components are a name or a
    mapping with ``name`` and options, ``augmenter`` and ``logger`` lists of such, sections mappings, and
    every value a single value, never a list or mapping.
    """
    components = ("task", "data", "representation", "backbone")
    known = (*components, *LISTED, *SECTIONS, *SCALARS)
    for key in data:
        if key not in known:
            raise ConfigError(f"{where}: unknown key '{key}'{did_you_mean(str(key), known)}; a config has: "
                              f"{', '.join(known)}")
    result: list[str] = []
    for key in components:
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            result.append(f"{key}={value}")
            continue
        section = dict(_mapping(value, key, where, "a name or a mapping with 'name' and its options"))
        if "name" in section:
            result.append(f"{key}={_name(section.pop('name'), key, where)}")
        result += [f"{key}.{k}={_single(v, f'{key}.{k}', where)}" for k, v in section.items() if v is not None]
    result += _listed_from_dict(data, "augmenter", "gain", where)
    if data.get("logger"):
        result += _listed_from_dict(data, "logger", "tensorboard", where)
    for section in SECTIONS:
        values = _mapping(data.get(section) or {}, section, where, "a mapping of option: value")
        result += [f"{section}.{k}={_single(v, f'{section}.{k}', where)}" for k, v in values.items() if v is not None]
    for key in SCALARS:
        if data.get(key) is not None:
            result.append(f"{key}={_single(data[key], key, where)}")
    return result


def _listed_from_dict(data: Mapping[str, Any], head: str, example: str, where: str) -> list[str]:
    """Overrides for a list of components (``augmenter``, ``logger``): names, then their options."""
    items = data.get(head) or []
    if isinstance(items, str):
        items = [{"name": name.strip()} for name in items.split(",") if name.strip()]
    if not isinstance(items, list):
        raise ConfigError(f"{where}: '{head}' must be a list of {head}s (- name: {example}), not {_kind(items)}")
    entries = []
    for position, item in enumerate(items, start=1):
        entry = dict(_mapping({"name": item} if isinstance(item, str) else item, f"{head} entry {position}",
                              where, "a name or a mapping with 'name' and its options"))
        if entry.get("name") is None:
            raise ConfigError(f"{where}: {head} entry {position} has no 'name'; write it as - name: {example}")
        entries.append((_name(entry.pop("name"), f"{head} entry {position}", where), entry))
    result = [f"{head}={','.join(name for name, _ in entries)}"]
    for name, entry in entries:
        result += [f"{head}.{name}.{k}={_single(v, f'{head}.{name}.{k}', where)}"
                   for k, v in entry.items() if v is not None]
    return result


def _kind(value: Any) -> str:
    """``a list``, ``the number 5``: what a value of the wrong layout is, for an error message."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "a list"
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    if isinstance(value, bool):
        return f"the value {value}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"{type(value).__name__} {str(value)[:40]!r}"


def _mapping(value: Any, key: str, where: str, expected: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: '{key}' must be {expected}, not {_kind(value)}")
    return value


def _name(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: the name of {key} must be text, not {_kind(value)}")
    return value


def _single(value: Any, key: str, where: str) -> Any:
    """A scalar, checked before it is formatted (a list built from YAML aliases can be huge as text)."""
    if isinstance(value, (Mapping, list, tuple, set, frozenset, bytes, bytearray)):
        raise ConfigError(f"{where}: {key} must be a single value, not {_kind(value)}")
    return value


def _apply(options: dict[str, Any], declared: Sequence[Option], key: str, option: str, value: str,
           owner: str) -> None:
    spec = next((o for o in declared if o.name == option), None)
    if spec is None:
        names = [o.name for o in declared]
        raise ConfigError(
            f"unknown key '{key}'{did_you_mean(option, names)}; {owner} accepts: {choices_text(names)}"
        )
    options[option] = spec.coerce(value, key)


def resolve(catalog: Catalog, overrides: Sequence[str]) -> RunConfig:
    """Build the typed :class:`RunConfig` from the task's defaults plus ``overrides``."""
    pairs = parse_overrides(overrides)
    chosen = {key: value for key, value in pairs if key in SELECTORS}  # the last of a repeated key wins
    rest = [(key, value) for key, value in pairs if key not in SELECTORS]
    task_spec, names = _chosen_names(catalog, chosen, rest)
    specs = {key: catalog.get("dataset" if key == "data" else key, names[key])
             for key in ("task", "data", "representation", "backbone")}
    listed = {head: _choose_listed(catalog, head, names[head]) for head in LISTED}
    options = {key: spec.option_defaults() for key, spec in specs.items()}
    declared: dict[str, tuple[Option, ...]] = {key: spec.options for key, spec in specs.items()}
    declared["data"] = tuple(declared["data"]) + DATA_OPTIONS
    options["data"].update({o.name: o.default for o in DATA_OPTIONS})
    sections = {name: {o.name: o.default for o in opts} for name, opts in SECTIONS.items()}
    scalars = {name: o.default for name, o in SCALARS.items()}

    # A task may default options too (e.g. representation.n_fft=2048 for key); they apply only
    # where the chosen component has that option, and the user's overrides come after them.
    task_options = []
    for key, value in defaults_for(task_spec, chosen, rest).items():
        head, _, option = key.partition(".")
        if option and (head in SECTIONS or any(o.name == option for o in declared.get(head, ()))):
            task_options.append((key, value))
    for key, value in task_options + rest:
        _apply_key(key, value, names, options, declared, listed, sections, scalars)

    scalars["name"] = scalars["name"] or None  # name= (empty): the default <timestamp>-<task>
    check_run_name(scalars["name"])
    check_training(sections["train"])
    check_mixup(sections["train"], task_spec)
    check_fad_backbone(catalog, sections["eval"]["fad_backbone"])
    augmenters = listed["augmenter"]
    check_generators(augmenters.names, augmenters.specs, augmenters.options)
    check_probe(options["backbone"], augmenters.names, augmenters.specs, names["backbone"],
                defaults_for(task_spec, chosen, rest))
    check_processes(sections["train"]["processes"], options["backbone"], augmenters.names, augmenters.specs)
    # Names are kept as given, so a qualified 'plugin:name' (chosen because of a name clash)
    # still picks the same plugin when the runner looks the component up again.
    return RunConfig(
        task=Selection(names["task"], options["task"]),
        data=Selection(names["data"], options["data"]),
        representation=Selection(names["representation"], options["representation"]),
        backbone=Selection(names["backbone"], options["backbone"]),
        augmenters=augmenters.selections(),
        loggers=listed["logger"].selections(),
        train=sections["train"],
        split=sections["split"],
        eval=sections["eval"],
        seed=scalars["seed"],
        out=scalars["out"],
        name=scalars["name"],
        # neither backbone= nor a backbone.* key given: the run may swap the task's default backbone
        # for one that takes the representation's features (mirplug.build.fit_backbone_to_features)
        backbone_default="backbone" not in chosen and not any(key.startswith("backbone.") for key, _ in rest),
        representation_default="representation" not in chosen
        and not any(key.startswith("representation.") for key, _ in rest),
    )


def _chosen_names(catalog: Catalog, chosen: Mapping[str, str],
                  rest: Sequence[tuple[str, str]] = ()) -> tuple[TaskSpec, dict[str, str]]:
    """The task's spec and the name chosen for every selector: given, else the task's default
    (:func:`defaults_for`: its recorded defaults on another dataset than its own)."""
    task_name = chosen.get("task") or default_task(catalog)
    task_spec = catalog.get("task", task_name)
    assert isinstance(task_spec, TaskSpec)
    defaults = {"data": task_spec.default_dataset or "", "augmenter": "", "logger": ""}
    defaults.update({k: v for k, v in defaults_for(task_spec, chosen, rest).items() if "." not in k})
    names = {key: chosen.get(key, defaults.get(key, "")) for key in SELECTORS}
    names["task"] = task_name
    for key in ("data", "representation", "backbone"):
        if not names[key]:
            kind = "dataset" if key == "data" else key
            raise ConfigError(f"task '{task_name}' names no default {kind}; choose one with {key}=NAME "
                              f"(installed: {choices_text(catalog.names(kind))})")
    return task_spec, names


@dataclass
class _Listed:
    """The components of a list selector (``augmenter``, ``logger``) in the order given, and their options."""

    head: str
    names: list[str]
    specs: list[Any]
    options: list[dict[str, Any]]

    def selections(self) -> list[Selection]:
        return [Selection(n, o) for n, o in zip(self.names, self.options)]


def _choose_listed(catalog: Catalog, head: str, text: str) -> _Listed:
    names = [n.strip() for n in text.split(",") if n.strip() and n.strip() != "none"]
    if len(set(names)) != len(names):
        raise ConfigError(f"{head}={text} names {_article(head)} {head} twice")
    specs = [catalog.get(head, n) for n in names]
    return _Listed(head, names, specs, [spec.option_defaults() for spec in specs])


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _apply_key(key: str, value: str, names: Mapping[str, str], options: dict[str, dict[str, Any]],
               declared: Mapping[str, Sequence[Option]], listed: Mapping[str, _Listed],
               sections: dict[str, dict[str, Any]], scalars: dict[str, Any]) -> None:
    """Set the option ``key`` names (a scalar, a section's, a component's) to ``value``, coerced."""
    head, _, tail = key.partition(".")
    valid_top = list(SELECTORS) + list(SECTIONS) + list(SCALARS)
    if head in SCALARS and not tail:
        scalars[head] = SCALARS[head].coerce(value, key)
    elif head in SECTIONS and tail:
        _apply(sections[head], SECTIONS[head], key, tail, value, f"section '{head}'")
    elif head in declared and tail:
        _apply(options[head], declared[head], key, tail, value, f"{head} '{names[head]}'")
    elif head in listed and tail:
        _apply_listed(key, tail, value, listed[head])
    else:
        if head in valid_top and not tail:
            raise ConfigError(f"key '{key}' needs an option name, e.g. {head}.<option>=...")
        raise ConfigError(
            f"unknown key '{key}'{did_you_mean(head, valid_top)}; "
            f"valid keys start with: {choices_text(valid_top)}"
        )


def default_task(catalog: Catalog) -> str:
    """The task ``mirplug run`` uses without ``task=``: the one whose spec says ``run_by_default``.

    When several installed tasks say so, the one shipped with mirplug itself wins; when none
    (or several third-party ones) do, ``task=`` must be given.
    """
    marked = [entry for entry in catalog.all("task") if isinstance(entry.spec, TaskSpec) and entry.spec.run_by_default]
    if len(marked) > 1:
        marked = [entry for entry in marked if entry.plugin in catalog.host.plugins
                  and catalog.host.plugins[entry.plugin].builtin] or marked
    if len(marked) != 1:
        claim = f" ({', '.join(sorted(e.spec.name for e in marked))} all claim to be the default)" if marked else ""
        raise ConfigError(f"no default task{claim}; choose one with task=NAME "
                          f"(installed: {choices_text(catalog.names('task'))})")
    entry = marked[0]
    return entry.spec.name if len(catalog.entries["task"][entry.spec.name]) == 1 else f"{entry.plugin}:{entry.spec.name}"


def defaults_for(task_spec: TaskSpec, chosen: Mapping[str, str], rest: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The task's ``defaults``, with its ``recorded_defaults`` over them when the run reads another dataset than
    the task's built-in one (recordings) and the user chose no backbone, ``backbone.*`` option or representation
    (the recorded defaults are one choice of model and windows, taken whole or not at all)."""
    merged = dict(task_spec.defaults)
    recorded = chosen.get("data", task_spec.default_dataset) != task_spec.default_dataset
    user_model = ("backbone" in chosen or "representation" in chosen
                  or any(key.startswith(("backbone.", "representation.")) for key, _ in rest))
    if recorded and not user_model:
        merged.update(task_spec.recorded_defaults)
    return merged


def check_probe(backbone: Mapping[str, Any], names: Sequence[str], specs: Sequence[Any], backbone_name: str,
                task_defaults: Mapping[str, str]) -> None:
    """A probe head (:mod:`mirplug.probe`) is fitted once on fixed embeddings: augmenters that change the audio or
    the features every epoch cannot reach it, so they are refused before any work."""
    per_epoch = [name for name, spec in zip(names, specs)
                 if isinstance(spec, AugmenterSpec) and spec.stage in ("waveform", "features")]
    if backbone.get("head") != "probe" or not per_epoch:
        return
    origin = (f" (the default on recordings is backbone={backbone_name} backbone.head=probe)"
              if task_defaults.get("backbone.head") == "probe" else "")
    raise ConfigError(f"augmenter={','.join(per_epoch)} changes the audio every epoch, but backbone.head=probe is "
                      f"fitted once on fixed embeddings{origin}; to augment, train a model (e.g. backbone=cnn "
                      f"representation=mel), or add embedding rows instead (augmenter=embedding_gaussian)")


def check_processes(processes: int, backbone: Mapping[str, Any], names: Sequence[str], specs: Sequence[Any]) -> None:
    """With ``train.processes`` > 1 (data-parallel training, :mod:`mirplug.distributed`), what runs in one process
    only is refused before any work: a probe head, fitted once by scikit-learn with no gradient step to share, and
    generator augmenters, fitted in one process and writing their files into the run folder."""
    if processes <= 1:
        return
    if backbone.get("head") == "probe":
        raise ConfigError(f"train.processes={processes} shares gradient steps between processes, but backbone.head="
                          f"probe is fitted once by scikit-learn in one process with no gradient step: use "
                          f"train.processes=1 with it (or train a head: backbone.head=linear)")
    alone = [name for name, spec in zip(names, specs)
             if isinstance(spec, AugmenterSpec) and spec.stage in ("generator", "embeddings")]
    if alone:
        raise ConfigError(f"augmenter={','.join(alone)} fits a generator, which runs in one process: use "
                          f"train.processes=1 with it")


def check_run_name(name: str | None) -> None:
    """A run folder name stays one folder inside ``out``: no separators, not ``.`` or ``..``, not empty."""
    if name is None:
        return
    if not name.strip() or name in (".", "..") or any(c in name for c in "/\\\0") or len(name.encode()) > 200:
        raise ConfigError(f"name={name!r} is not a folder name: the run folder must stay inside out=; give a "
                          f"plain name (no '/', '\\', '..', at most 200 bytes), or set out= for another place")


def check_training(train: Mapping[str, Any]) -> None:
    """Values that are valid alone but not together: AdamW scales the weights by ``1 - lr * weight_decay``."""
    shrink = train["lr"] * train["weight_decay"]
    if shrink >= 1.0:
        raise ConfigError(
            f"train.weight_decay={train['weight_decay']:g} with train.lr={train['lr']:g}: AdamW multiplies every "
            f"weight by 1 - lr * weight_decay = {1.0 - shrink:g} each step, which wipes the model out; lower "
            f"train.weight_decay below {1.0 / train['lr']:g} (default 0.0001)"
        )


def check_mixup(train: Mapping[str, Any], task_spec: TaskSpec) -> None:
    """Mixup mixes targets: single-label (class probabilities) and multi-label (multi-hot) tasks only."""
    kind = task_spec.label_kind
    if train.get("mixup_alpha") and kind not in ("single-label", "multi-label"):
        raise ConfigError(f"train.mixup_alpha={train['mixup_alpha']:g}: task '{task_spec.name}' has {kind} targets; "
                          f"mixup takes single-label or multi-label tasks (set train.mixup_alpha=0)")


def check_fad_backbone(catalog: Catalog, choice: str | None) -> None:
    """``eval.fad_backbone`` is ``auto``, ``logmel`` or the name of a backbone in the catalog."""
    if choice in (None, "auto", "logmel"):
        return
    try:
        catalog.get("backbone", choice)
    except ConfigError as exc:
        raise ConfigError(f"eval.fad_backbone={choice}: {exc}; or auto, logmel") from None


def check_generators(names: Sequence[str], specs: Sequence[Any], options: Sequence[Mapping[str, Any]]) -> None:
    """A generator augmenter must be asked for clips: ``per_class`` or ``balance`` (the Generator contract's
    sampling options), else it is fitted for minutes and adds nothing."""
    for name, spec, values in zip(names, specs, options):
        if not (isinstance(spec, AugmenterSpec) and spec.stage in ("generator", "embeddings")):
            continue
        if spec.option("per_class") is None or spec.option("balance") is None:
            continue  # a generator that samples otherwise decides itself
        if not values.get("per_class") and not values.get("balance"):
            prefix = "augmenter." if len(names) == 1 else f"augmenter.{name}."
            raise ConfigError(
                f"augmenter '{name}' would add no clips ({prefix}per_class=0 and {prefix}balance=false); set "
                f"{prefix}per_class=N (N clips added to every class) or {prefix}balance=true (every class "
                f"brought up to the largest)"
            )


def _apply_listed(key: str, tail: str, value: str, listed: _Listed) -> None:
    """``augmenter.OPTION`` (every chosen augmenter with that option) or ``augmenter.NAME.OPTION``; same for loggers."""
    head, names, specs, options = listed.head, listed.names, listed.specs, listed.options
    if not names:
        raise ConfigError(f"'{key}' sets {_article(head)} {head} option but no {head} is chosen; add {head}=NAME")
    first, _, second = tail.partition(".")
    if second:
        if first not in names:
            raise ConfigError(
                f"'{key}' names {head} '{first}', which is not chosen; chosen: {choices_text(names)}"
            )
        index = names.index(first)
        _apply(options[index], specs[index].options, key, second, value, f"{head} '{first}'")
        return
    hits = [i for i, spec in enumerate(specs) if spec.option(first) is not None]
    if not hits:
        every = sorted({o.name for spec in specs for o in spec.options})
        raise ConfigError(
            f"unknown key '{key}'{did_you_mean(first, every)}; {head} "
            f"{'/'.join(names)} accepts: {choices_text(every)}"
        )
    for index in hits:
        options[index][first] = specs[index].option(first).coerce(value, key)


def copy_config(config: RunConfig) -> RunConfig:
    """A deep copy, for sweeps that vary one value."""
    return copy.deepcopy(config)
