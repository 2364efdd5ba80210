"""The typed run configuration: a task's defaults plus ``key=value`` overrides.

Overrides come from the command line as ``key=value`` strings::

    task=genre backbone=cnn backbone.channels=32 train.epochs=5 augmenter=gain,noise seed=3

``task``, ``data``, ``representation``, ``backbone`` and ``augmenter`` choose components;
a dotted key sets an option of the chosen component (``augmenter.NAME.OPTION`` chooses one
of several augmenters) or of a core section (``train``, ``split``, ``data``). Every value is
coerced to the declared type; unknown keys and bad values raise :class:`ConfigError`
naming the valid choices, before any work starts.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mirplug.catalog import Catalog
from mirplug.errors import ConfigError, choices_text, did_you_mean
from mirplug.specs import Option, TaskSpec

DEFAULT_TASK = "genre"
SELECTORS = ("task", "data", "representation", "backbone", "augmenter")
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
        Option(name="device", type=str, default="auto", choices=("auto", "cpu", "cuda", "mps"), help="torch device"),
        Option(name="threads", type=int, default=0, minimum=0, maximum=1024,
               help="torch CPU threads (0: torch's default)"),
    ),
    "eval": (
        Option(name="folds", type=int, default=1, minimum=1, maximum=100,
               help="k-fold cross-validation: each fold is the test set once (1: one train/validation/test split)"),
        Option(name="fad_backbone", type=str, default="auto",
               help="embeddings for the Fréchet distance of synthetic clips: a frozen pretrained backbone (e.g. "
                    "musicnn), 'logmel' (time-pooled log-mel statistics) or 'auto' (the run's backbone when it "
                    "is frozen, else logmel)"),
    ),
    "split": (
        Option(name="validation", type=float, default=0.15, minimum=0.0, maximum=0.5, help="validation fraction"),
        Option(name="test", type=float, default=0.2, minimum=0.0, maximum=0.5, help="test fraction"),
    ),
}
# Options every dataset shares, in the ``data`` section next to the dataset's own.
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

    ``backbone_default`` (not saved) says the backbone is the task's default, not the user's choice.
    """

    task: Selection
    data: Selection
    representation: Selection
    backbone: Selection
    augmenters: list[Selection]
    train: dict[str, Any]
    split: dict[str, Any]
    eval: dict[str, Any] = field(default_factory=lambda: {"folds": 1})
    seed: int = 0
    out: str = "runs"
    name: str | None = None
    backbone_default: bool = field(default=False, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``config.yaml``."""
        return {
            "task": self.task.to_dict(),
            "data": self.data.to_dict(),
            "representation": self.representation.to_dict(),
            "backbone": self.backbone.to_dict(),
            "augmenter": [a.to_dict() for a in self.augmenters],
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
        for section, selection in (("task", self.task), ("data", self.data),
                                   ("representation", self.representation), ("backbone", self.backbone)):
            result += [f"{section}.{k}={v}" for k, v in selection.options.items() if v is not None]
        for aug in self.augmenters:
            result += [f"augmenter.{aug.name}.{k}={v}" for k, v in aug.options.items() if v is not None]
        for section in SECTIONS:
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
    mapping with ``name`` and options, ``augmenter`` a list of such, sections mappings, and every
    value a single value, never a list or mapping.
    """
    components = ("task", "data", "representation", "backbone")
    known = (*components, "augmenter", *SECTIONS, *SCALARS)
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
    augmenters = data.get("augmenter") or []
    if isinstance(augmenters, str):
        augmenters = [{"name": name.strip()} for name in augmenters.split(",") if name.strip()]
    if not isinstance(augmenters, list):
        raise ConfigError(f"{where}: 'augmenter' must be a list of augmenters (- name: gain), not "
                          f"{_kind(augmenters)}")
    entries = []
    for position, item in enumerate(augmenters, start=1):
        entry = dict(_mapping({"name": item} if isinstance(item, str) else item, f"augmenter entry {position}",
                              where, "a name or a mapping with 'name' and its options"))
        if entry.get("name") is None:
            raise ConfigError(f"{where}: augmenter entry {position} has no 'name'; write it as - name: gain")
        entries.append((_name(entry.pop("name"), f"augmenter entry {position}", where), entry))
    result.append(f"augmenter={','.join(name for name, _ in entries)}")
    for name, entry in entries:
        result += [f"augmenter.{name}.{k}={_single(v, f'augmenter.{name}.{k}', where)}"
                   for k, v in entry.items() if v is not None]
    for section in SECTIONS:
        values = _mapping(data.get(section) or {}, section, where, "a mapping of option: value")
        result += [f"{section}.{k}={_single(v, f'{section}.{k}', where)}" for k, v in values.items() if v is not None]
    for key in SCALARS:
        if data.get(key) is not None:
            result.append(f"{key}={_single(data[key], key, where)}")
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
    chosen: dict[str, str] = {}
    rest: list[tuple[str, str]] = []
    for key, value in pairs:
        if key in SELECTORS:
            chosen[key] = value
        else:
            rest.append((key, value))

    task_name = chosen.get("task", DEFAULT_TASK)
    task_spec = catalog.get("task", task_name)
    assert isinstance(task_spec, TaskSpec)
    task_defaults = defaults_for(task_spec, chosen, rest)
    defaults = {"data": task_spec.default_dataset, "representation": "mel", "backbone": "cnn", "augmenter": ""}
    defaults.update({k: v for k, v in task_defaults.items() if "." not in k})
    names = {key: chosen.get(key, defaults.get(key, "")) for key in SELECTORS}
    names["task"] = task_name

    specs = {key: catalog.get("dataset" if key == "data" else key, names[key])
             for key in ("task", "data", "representation", "backbone")}
    augmenter_names = [n.strip() for n in names["augmenter"].split(",") if n.strip() and n.strip() != "none"]
    if len(set(augmenter_names)) != len(augmenter_names):
        raise ConfigError(f"augmenter={names['augmenter']} names an augmenter twice")
    augmenter_specs = [catalog.get("augmenter", n) for n in augmenter_names]

    options = {key: spec.option_defaults() for key, spec in specs.items()}
    declared: dict[str, tuple[Option, ...]] = {key: spec.options for key, spec in specs.items()}
    declared["data"] = tuple(declared["data"]) + DATA_OPTIONS
    options["data"].update({o.name: o.default for o in DATA_OPTIONS})
    aug_options = [spec.option_defaults() for spec in augmenter_specs]
    sections = {name: {o.name: o.default for o in opts} for name, opts in SECTIONS.items()}
    scalars = {name: o.default for name, o in SCALARS.items()}

    # A task may default options too (e.g. representation.n_fft=2048 for key); they apply only
    # where the chosen component has that option, and the user's overrides come after them.
    task_options = []
    for key, value in task_defaults.items():
        head, _, option = key.partition(".")
        if option and (head in SECTIONS or any(o.name == option for o in declared.get(head, ()))):
            task_options.append((key, value))
    valid_top = list(SELECTORS) + list(SECTIONS) + list(SCALARS)
    for key, value in task_options + rest:
        head, _, tail = key.partition(".")
        if head in SCALARS and not tail:
            scalars[head] = SCALARS[head].coerce(value, key)
        elif head in SECTIONS and tail:
            _apply(sections[head], SECTIONS[head], key, tail, value, f"section '{head}'")
        elif head in declared and tail:
            owner = f"{head} '{names[head]}'"
            _apply(options[head], declared[head], key, tail, value, owner)
        elif head == "augmenter" and tail:
            _apply_augmenter(key, tail, value, augmenter_names, augmenter_specs, aug_options)
        else:
            if head in valid_top and not tail:
                raise ConfigError(f"key '{key}' needs an option name, e.g. {head}.<option>=...")
            raise ConfigError(
                f"unknown key '{key}'{did_you_mean(head, valid_top)}; "
                f"valid keys start with: {choices_text(valid_top)}"
            )

    scalars["name"] = scalars["name"] or None  # name= (empty): the default <timestamp>-<task>
    check_run_name(scalars["name"])
    check_training(sections["train"])
    check_fad_backbone(catalog, sections["eval"]["fad_backbone"])
    check_generators(augmenter_names, augmenter_specs, aug_options)
    # Names are kept as given, so a qualified 'plugin:name' (chosen because of a name clash)
    # still picks the same plugin when the runner looks the component up again.
    return RunConfig(
        task=Selection(names["task"], options["task"]),
        data=Selection(names["data"], options["data"]),
        representation=Selection(names["representation"], options["representation"]),
        backbone=Selection(names["backbone"], options["backbone"]),
        augmenters=[Selection(n, o) for n, o in zip(augmenter_names, aug_options)],
        train=sections["train"],
        split=sections["split"],
        eval=sections["eval"],
        seed=scalars["seed"],
        out=scalars["out"],
        name=scalars["name"],
        # neither backbone= nor a backbone.* key given: the run may swap the task's default backbone
        # for one that takes the representation's features (mirplug.build.fit_backbone_to_features)
        backbone_default="backbone" not in chosen and not any(key.startswith("backbone.") for key, _ in rest),
    )


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
        if getattr(spec, "stage", None) not in ("generator", "embeddings"):
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


def _apply_augmenter(key: str, tail: str, value: str, names: list[str], specs: list[Any],
                     options: list[dict[str, Any]]) -> None:
    if not names:
        raise ConfigError(f"'{key}' sets an augmenter option but no augmenter is chosen; add augmenter=NAME")
    first, _, second = tail.partition(".")
    if second:
        if first not in names:
            raise ConfigError(
                f"'{key}' names augmenter '{first}', which is not chosen; chosen: {choices_text(names)}"
            )
        index = names.index(first)
        _apply(options[index], specs[index].options, key, second, value, f"augmenter '{first}'")
        return
    hits = [i for i, spec in enumerate(specs) if spec.option(first) is not None]
    if not hits:
        every = sorted({o.name for spec in specs for o in spec.options})
        raise ConfigError(
            f"unknown key '{key}'{did_you_mean(first, every)}; augmenter "
            f"{'/'.join(names)} accepts: {choices_text(every)}"
        )
    for index in hits:
        options[index][first] = specs[index].option(first).coerce(value, key)


def copy_config(config: RunConfig) -> RunConfig:
    """A deep copy, for sweeps that vary one value."""
    return copy.deepcopy(config)
