"""Results several processes may compute at once: done once, published whole, first publisher wins.

Any number of mirplug processes (runs started together, sweep workers, Ray workers on a shared
file system) may share one cache. What they compute there follows one protocol:

1. **A lock makes the work happen once.** :func:`lock` is a ``filelock.FileLock`` beside the
   result (``<result>.lock``). It is an OS lock (``flock`` on Unix, ``LockFileEx`` on Windows):
   when its holder dies, even by ``kill -9``, the OS releases it, so a killed holder never leaves
   a stale lock; the empty lock file stays, as filelock keeps it for waiters. A process that
   waits for the lock finds the result there when it gets it and reuses it.
2. **Work goes into a private temporary name** (:func:`temporary_folder`, or a temporary file
   beside the entry): a reader never sees half a result, and a killed worker leaves only a
   temporary that :func:`remove_stale_temporaries` (under the lock) or ``mirplug cache clear``
   removes.
3. **Publishing is one atomic rename** (:func:`publish_folder`, :func:`publish_file`). Where
   two processes computed the same result anyway (a file system without working locks, or
   entries too small to lock), the first rename wins and the loser drops its copy and reuses
   the winner's: results are keyed by their inputs, so both copies are equal.

Part of the plugin API: a plugin that writes into mirplug's cache (a dataset it generates, say) uses
``from mirplug import build_once`` or, for more, ``from mirplug import publish``; the names in
``__all__`` keep the compatibility rule of :data:`mirplug.PLUGIN_API_VERSION`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# Public (``from mirplug import publish``, and ``mirplug.build_once``): plugins that write into the cache
# follow the same protocol; these names keep the compatibility rule of mirplug.PLUGIN_API_VERSION.
__all__ = ["build_once", "building", "lock", "publish_file", "publish_folder", "remove_stale_temporaries",
           "replace_folder", "temporary_file", "temporary_folder"]

TEMPORARY_MARK = ".tmp-"


def lock(result: Path, timeout: float = -1) -> Any:
    """The cross-process lock of ``result`` (``<result>.lock``); ``timeout`` in seconds, -1: wait."""
    from filelock import FileLock

    result.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(result.with_name(result.name + ".lock")), timeout=timeout)


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is a temporary made by this module (not a published result)."""
    return TEMPORARY_MARK in path.name


def is_lock(path: Path) -> bool:
    """Whether ``path`` is the lock file of a result."""
    return path.name.endswith(".lock")


def temporary_folder(result: Path) -> Path:
    """A new, empty, private folder beside ``result`` to build it in."""
    result.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=result.parent, prefix=f".{result.name}{TEMPORARY_MARK}{os.getpid()}-"))


def temporary_file(result: Path, suffix: str = "") -> Path:
    """A new, empty, private file beside ``result`` to write it in."""
    handle, name = tempfile.mkstemp(dir=result.parent, prefix=f".{result.name}{TEMPORARY_MARK}", suffix=suffix)
    os.close(handle)
    return Path(name)


def publish_folder(temporary: Path, result: Path) -> bool:
    """Rename the built folder ``temporary`` to ``result``; False (and ``temporary`` removed) when
    another process published ``result`` first."""
    try:
        os.rename(temporary, result)
        return True
    except OSError:
        if not result.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
            raise
    shutil.rmtree(temporary, ignore_errors=True)
    return False


def replace_folder(temporary: Path, result: Path) -> None:
    """Publish ``temporary`` as ``result`` when a damaged ``result`` must give way (hold the lock).

    The old folder is renamed aside first, then removed, so ``result`` is never half old, half new.
    """
    aside = None
    if result.exists():
        aside = Path(tempfile.mkdtemp(dir=result.parent, prefix=f".{result.name}{TEMPORARY_MARK}old-"))
        os.rename(result, aside / "old")
    os.rename(temporary, result)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def publish_file(temporary: Path, result: Path) -> bool:
    """Publish the written file ``temporary`` as ``result``; False when ``result`` was there first.

    A hard link publishes without replacing (the first publisher wins and a reader of the
    existing file is not disturbed); where the file system has no hard links, an atomic
    replace (the contents are equal, so either copy will do). ``temporary`` is gone afterwards.
    """
    try:
        os.link(temporary, result)
        return True
    except FileExistsError:
        return False
    except OSError:  # no hard links here (some network and FUSE file systems)
        os.replace(temporary, result)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def remove_stale_temporaries(result: Path) -> None:
    """Remove temporaries of ``result`` left by killed processes; call with ``lock(result)`` held.

    Whoever builds ``result`` holds its lock, so under the lock no other process is writing them.
    """
    for path in result.parent.glob(f".{result.name}{TEMPORARY_MARK}*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


@contextlib.contextmanager
def building(result: Path) -> Iterator[Path]:
    """A private temporary folder for ``result``, removed if the block fails; publish it in the block."""
    temporary = temporary_folder(result)
    try:
        yield temporary
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def build_once(result: Path, build: Callable[[Path], None], marker: str = "COMPLETE") -> Path:
    """The folder ``result``, filled by ``build(folder)`` once however many processes ask at the same time.

    For a plugin that generates or unpacks data into mirplug's cache: ``build`` fills a private
    temporary folder, which gets ``marker`` and is published by one rename under ``lock(result)``;
    a process that waited for the lock, or asks later, finds ``result`` complete and reuses it.
    A process killed while building leaves a temporary that the next builder removes.
    """
    if (result / marker).exists():
        return result
    with lock(result):
        remove_stale_temporaries(result)
        if not (result / marker).exists():
            with building(result) as temporary:
                build(temporary)
                (temporary / marker).write_text("complete\n")
                publish_folder(temporary, result)
    return result
