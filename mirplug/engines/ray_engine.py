"""``engine=ray``: extraction as a Ray Data pipeline, the runs of a sweep or ablation as Ray tasks.

Imported only when ``engine=ray`` is chosen. Without ``engine.address`` a local Ray is started
for the command (on 127.0.0.1 only, no dashboard) and stopped at its end; with
``engine.address=auto`` or ``ray://HOST:PORT`` the work goes to a running cluster, whose nodes must
see the audio files and the cache at the same paths as this machine (a shared file system).

The engine runs what it is given and imports no other part of mirplug's run code. Extraction
(:func:`map_shards`): each shard of clips is one row of a Ray dataset; ``map_batches`` hands the
rows to a pool of actors (:class:`ShardActor`), each holding one
:class:`mirplug.extract.ClipExtractor` (representation and frozen backbone loaded once per actor,
a GPU per actor when the cluster has GPUs). Entries are written to a temporary file and renamed (:class:`mirplug.cache.EntryStore`), so
a worker killed mid-shard leaves no torn entry; Ray restarts the actor and runs the shard again,
and what the killed worker had finished is then read back from the cache.

Grids (:func:`run_tasks`): each run of a sweep or ablation is a Ray task (``engine.cpus_per_run``,
``engine.gpus_per_run``) running :func:`mirplug.sweep.run_overrides` on its node, which writes its
run folder where the in-process sweep would; the results are gathered into the same tables.

Internal: not part of the plugin API (that is :mod:`mirplug` and :mod:`mirplug.testing`); may change
in any release.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mirplug.errors import ConfigError, MirplugError, RunError

if TYPE_CHECKING:
    from mirplug.engines import EngineSettings

# Environment a worker needs to see what this process sees (plugins, cache, offline switches).
FORWARDED_PREFIXES = ("MIRPLUG_", "HF_", "TRANSFORMERS_", "TORCH_HOME", "PYTHONPATH")
RETRIES = 3  # retries of a grid run whose worker died (an exception in the run is not retried)


def check_ray() -> Any:
    """The ``ray`` module with Ray Data, or a :class:`ConfigError` in one line when Ray is not installed."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"engine=ray needs Ray, which cannot be imported here ({exc}); install it with "
                          f"pip install 'mirplug[ray]' (ray[data]), or leave engine= out to work in this process") \
            from None
    return ray


def worker_environment() -> dict[str, str]:
    """What the Ray workers must see: the cache folder (resolved here) and mirplug's other settings."""
    from mirplug.paths import cache_dir

    env = {key: value for key, value in os.environ.items() if key.startswith(FORWARDED_PREFIXES)}
    env["MIRPLUG_CACHE_DIR"] = str(cache_dir())
    return env


@contextmanager
def ray_session(engine: EngineSettings, local_cpus: int) -> Iterator[Any]:
    """Ray, connected: to ``engine.address``, to a Ray this process already started, or to a local one.

    A local Ray gets ``local_cpus`` CPUs, no dashboard, listens on 127.0.0.1 only and is shut down
    at the end. (Ray binds its servers to the node's address; on Linux that is the machine's
    network address unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, which makes it the loopback
    address, as Ray does on a laptop.)
    """
    ray = check_ray()
    if ray.is_initialized():
        yield ray
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing is reported anywhere
    quiet: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    try:
        if engine.address:
            ray.init(address=engine.address, **quiet)
        else:
            with _loopback_only():
                ray.init(num_cpus=max(1, local_cpus), include_dashboard=False, **quiet)
    except (ConnectionError, TimeoutError, ValueError) as exc:
        where = f"engine.address={engine.address}" if engine.address else "a local Ray"
        message = " ".join(str(exc).split())[:300]
        raise RunError(f"{where}: Ray did not start or connect ({type(exc).__name__}: {message}); start a cluster "
                       f"with 'ray start --head' and give its address, or leave engine.address out") from None
    except Exception as exc:  # noqa: BLE001 - Ray raises a bare Exception when its node does not come up
        message = " ".join(str(exc).split())[:300]
        raise RunError(f"Ray did not start ({message}); on a busy machine try again, or leave engine= out") from None
    try:
        yield ray
    finally:
        ray.shutdown()


@contextmanager
def _loopback_only() -> Iterator[None]:
    """While a local Ray starts: its node address is 127.0.0.1, so its processes listen there only."""
    from ray._private import ray_constants

    key = ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR
    saved_env, saved_flag = os.environ.get(key), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[key] = "0"  # read by the processes Ray starts (GCS, raylet, workers) when they import ray
    ray_constants.ENABLE_RAY_CLUSTER = False  # read by this process (ray is imported already)
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_flag
        if saved_env is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = saved_env


def enter_worker(env: dict[str, str]) -> None:
    """Give this Ray worker the driver's settings: environment variables and ``PYTHONPATH`` entries.

    Ray starts workers with its own ``PYTHONPATH``, so the driver's entries (plugins found there
    through their entry points) are put on ``sys.path`` here.
    """
    import importlib
    import sys

    os.environ.update(env)
    entries = [entry for entry in env.get("PYTHONPATH", "").split(os.pathsep) if entry and entry not in sys.path]
    if entries:
        sys.path[:0] = entries
        importlib.invalidate_caches()


def _unwrap(exc: BaseException) -> BaseException:
    """The mirplug error inside a Ray error, so the command prints its one line.

    A task's exception comes back as ``cause``; an actor that failed to start gives only text, in
    which the mirplug error's last line is found.
    """
    import re

    cause = getattr(exc, "cause", None)
    if isinstance(cause, MirplugError):
        return cause
    text = str(exc)
    found = re.findall(r"mirplug\.errors\.\w+: ([^\n]+)", text)
    if found:
        return RunError(found[-1].strip())
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return RunError(f"a Ray worker failed: {(lines[-1] if lines else type(exc).__name__)[:500]}")


# ---------------------------------------------------------------------------------------------
# extraction


class ShardActor:
    """One Ray Data actor: ``factory(*args, device)`` built once (its models load once), called per shard.

    The factory, its arguments and the environment are class attributes of a subclass made per
    call of :func:`map_shards`, not constructor arguments: Ray keeps constructor arguments in its
    object store, from which a restarted actor could no longer read them once they are released.
    """

    factory: Any = None
    args: tuple[Any, ...] = ()
    env: dict[str, str] = {}

    def __init__(self) -> None:
        enter_worker(self.env)
        os.environ["MIRPLUG_DECODE_THREADS"] = "1"  # one CPU per actor: decode in its own thread
        import ray
        import torch

        gpu = bool(ray.get_gpu_ids()) and torch.cuda.is_available()
        if not gpu:
            torch.set_num_threads(1)
        self.worker = type(self).factory(*self.args, "cuda" if gpu else "cpu")

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[bytes]]:
        results = []
        for payload in batch["shard"]:
            cells, ids = pickle.loads(payload)
            results.append(pickle.dumps((len(cells), self.worker(cells, ids))))
        return {"result": results}


def map_shards(factory: Any, args: tuple[Any, ...], shards: list[tuple[list[Any], list[str]]],
               engine: EngineSettings) -> Iterator[tuple[int, Any]]:
    """``factory(*args, device)(cells, ids)`` for every shard, in a pool of Ray Data actors (``engine.workers``,
    a GPU each when the cluster has GPUs); yields (clips in the shard, what it returned) as shards finish.

    ``factory`` must be importable on the workers (a class or function at the top of a mirplug module).
    """
    if not shards:
        return
    local_cpus = engine.workers or os.cpu_count() or 1
    with ray_session(engine, local_cpus) as ray:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # mirplug shows one bar for the whole extraction
        context.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        resources = ray.cluster_resources()
        gpus = engine.gpus_per_worker
        if gpus is None:
            gpus = 1.0 if resources.get("GPU", 0) >= 1 else 0.0
        capacity = int(resources.get("GPU", 0) // gpus) if gpus else int(resources.get("CPU", 1))
        workers = max(1, min(engine.workers or capacity, len(shards)))
        rows = [{"shard": pickle.dumps(shard)} for shard in shards]
        actor = type("ShardActor", (ShardActor,), {"factory": factory, "args": args, "env": worker_environment()})
        # Ray Data restarts a dead actor and retries its shard (its defaults: without limit); an
        # exception raised by mirplug's code is not retried and ends the work with its message.
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            actor, batch_size=1, compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1,
            num_gpus=gpus or None)
        try:
            for row in dataset.iter_rows():
                yield pickle.loads(row["result"])
        except ray.exceptions.RayError as exc:
            raise _unwrap(exc) from None


# ---------------------------------------------------------------------------------------------
# grids


def _call(function: Any, args: tuple[Any, ...], threads: int, env: dict[str, str]) -> Any:
    """One Ray task: the driver's settings, ``threads`` torch threads, then ``function(*args)``."""
    enter_worker(env)
    import torch

    torch.set_num_threads(max(1, threads))  # the CPUs Ray reserved for this task
    return function(*args)


def run_tasks(function: Any, jobs: list[tuple[int, tuple[Any, ...]]], engine: EngineSettings) -> Iterator[tuple[int, Any]]:
    """``function(*args)`` for each (index, args) as a Ray task (``engine.cpus_per_run``, ``engine.gpus_per_run``,
    at most ``engine.workers`` at once); yields (index, result) as tasks finish.

    ``function`` must be importable on the workers. A task whose worker died is retried; an
    exception raised by the function is not, and ends the work with its message.
    """
    if not jobs:
        return
    per_run = max(1.0, engine.cpus_per_run)
    local_cpus = int(per_run * engine.workers) if engine.workers else (os.cpu_count() or 1)
    with ray_session(engine, local_cpus) as ray:
        remote = ray.remote(_call).options(num_cpus=engine.cpus_per_run, num_gpus=engine.gpus_per_run,
                                           max_retries=RETRIES, retry_exceptions=False)
        env = worker_environment()
        queue = list(jobs)
        limit = engine.workers or len(queue)  # tasks at once (0: as many as the cluster's resources allow)
        pending: dict[Any, int] = {}
        try:
            while queue or pending:
                while queue and len(pending) < limit:
                    index, args = queue.pop(0)
                    pending[remote.remote(function, args, int(engine.cpus_per_run), env)] = index
                ready, _ = ray.wait(list(pending), num_returns=1)
                index = pending.pop(ready[0])
                try:
                    result = ray.get(ready[0])
                except ray.exceptions.RayError as exc:
                    raise _unwrap(exc) from None
                yield index, result
        finally:
            for reference in pending:
                ray.cancel(reference, force=True)
