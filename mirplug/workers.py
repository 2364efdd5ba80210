"""Worker processes that end with the process that started them.

A run killed with ``kill -9`` cannot tell its workers to stop: without help they keep running
with parent 1 (the synthetic dataset's generator left a ~360 MB worker behind). Every pool
mirplug starts comes from :func:`worker_pool`: its processes are started with ``spawn`` (they
inherit no lock or open file of the parent) and first call :func:`die_with_parent`, which asks
Linux to send them SIGKILL when the parent ends (``prctl(PR_SET_PDEATHSIG)``); elsewhere a
daemon thread checks the parent every half second and ends the worker when it is gone.

Internal module: plugin authors import ``worker_pool`` from :mod:`mirplug`, which is the stable API;
everything else here may change in any release.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCH_SECONDS = 0.5


def die_with_parent(parent: int) -> None:
    """End this process when ``parent`` (the pid that started it) ends; at once if it has already."""
    if sys.platform.startswith("linux") and _death_signal():
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)
        return
    threading.Thread(target=_watch, args=(parent,), daemon=True, name="mirplug-parent-watch").start()


def _death_signal() -> bool:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    os._exit(1)


def _start(parent: int, initializer: Callable[..., Any] | None, initargs: tuple[Any, ...]) -> None:
    die_with_parent(parent)
    if initializer is not None:
        initializer(*initargs)


def worker_pool(workers: int, initializer: Callable[..., Any] | None = None,
                initargs: tuple[Any, ...] = ()) -> ProcessPoolExecutor:
    """A ``spawn`` process pool of ``workers`` processes that die with this one.

    ``initializer(*initargs)`` runs in each worker after it is tied to this process; like the
    jobs, it must be importable by name (a module-level function).
    """
    import multiprocessing

    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start,
                               initargs=(os.getpid(), initializer, initargs))
