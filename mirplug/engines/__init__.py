"""Where the work of ``extract``, ``sweep`` and ``ablate`` runs: in this process (default) or on Ray.

``engine=ray`` and its ``engine.*`` keys are given among the overrides of those commands but are not
part of a run's config: the same run gives the same ``config.yaml`` and numbers wherever it ran.
:func:`split_engine` takes them out and checks them; :mod:`mirplug.engines.ray_engine` (imported
only when ``engine=ray`` is chosen, so Ray is never imported otherwise) does the work.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mirplug.errors import ConfigError, choices_text, did_you_mean
from mirplug.specs import Option

ENGINES = ("local", "ray")
ENGINE_OPTIONS: tuple[Option, ...] = (
    Option(name="address", type=str, default=None,
           help="the Ray cluster: auto (the one 'ray start' made on this machine) or ray://HOST:PORT; "
                "not set: a local Ray on this machine only (127.0.0.1), stopped at the end"),
    Option(name="workers", type=int, default=0, minimum=0, maximum=100_000,
           help="extract: Ray Data actors (each loads the representation and backbone once); sweep/ablate: runs "
                "at once; 0: as many as the cluster's CPUs (GPUs when it has them) allow"),
    Option(name="cpus_per_run", type=float, default=1.0, minimum=0.01, maximum=1024.0,
           help="sweep/ablate: CPUs Ray reserves for each run (also its torch threads unless train.threads is set)"),
    Option(name="gpus_per_run", type=float, default=0.0, minimum=0.0, maximum=64.0,
           help="sweep/ablate: GPUs Ray reserves for each run (fractions share a GPU)"),
    Option(name="gpus_per_worker", type=float, default=None, minimum=0.0, maximum=64.0,
           help="extract: GPUs per Ray Data actor (default: 1 when the cluster has GPUs, else 0)"),
)


@dataclass(frozen=True)
class EngineSettings:
    """The engine chosen with ``engine=`` and its ``engine.*`` options."""

    name: str = "local"
    address: str | None = None
    workers: int = 0
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0
    gpus_per_worker: float | None = None

    @property
    def ray(self) -> bool:
        """Whether the work goes to Ray."""
        return self.name == "ray"


def split_engine(overrides: Sequence[str]) -> tuple[EngineSettings, list[str]]:
    """The engine settings among ``overrides`` and the other overrides, in their order.

    Unknown ``engine.*`` keys, bad values and ``engine.*`` keys without ``engine=ray`` are a
    :class:`~mirplug.errors.ConfigError` naming the key.
    """
    rest: list[str] = []
    name = "local"
    values: dict[str, object] = {}
    given: list[str] = []
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if key == "engine" and sep:
            name = value.strip() or "local"
            if name not in ENGINES:
                raise ConfigError(f"engine={name} is not an engine{did_you_mean(name, ENGINES)}; choose one of: "
                                  f"{choices_text(ENGINES)}")
        elif key.startswith("engine.") and sep:
            option = key[len("engine."):]
            spec = next((o for o in ENGINE_OPTIONS if o.name == option), None)
            if spec is None:
                names = [o.name for o in ENGINE_OPTIONS]
                raise ConfigError(f"unknown key '{key}'{did_you_mean(option, names)}; engine accepts: "
                                  f"{choices_text(names)}")
            values[option] = spec.coerce(value.strip(), key)
            given.append(key)
        else:
            rest.append(item)
    if given and name != "ray":
        raise ConfigError(f"{given[0]} is a setting of engine=ray; add engine=ray (or leave {given[0]} out)")
    settings = EngineSettings(name=name, **values)  # type: ignore[arg-type]
    if settings.address is not None and not (settings.address == "auto" or settings.address.startswith("ray://")
                                             or ":" in settings.address):
        raise ConfigError(f"engine.address={settings.address}: give auto (the cluster 'ray start' made on this "
                          f"machine), ray://HOST:PORT (Ray Client) or HOST:PORT of the head node")
    return settings, rest
