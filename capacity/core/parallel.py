"""Independent evaluations (one per chip of a comparison or a sweep) on every core the process may use.

Each chip's layout search is pure Python and independent of the others, so ``compare --all`` and a grid
sweep scale with the cores. Worker processes are forked, so they inherit the function to run (a closure
over the request) and everything already loaded; where the platform does not fork safely (macOS,
Windows), inside a daemonic worker, with one core, or with ``CAPACITY_JOBS=1``, the items run here, one
after another. The answers are the same either way: each item's evaluation depends only on the item.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_TASK: Callable[[Any], Any] | None = None  # set before the fork: what the workers run
_ITEMS: Sequence[Any] = ()


def jobs(items: int) -> int:
    """Worker processes for ``items`` evaluations: ``$CAPACITY_JOBS`` if set, else the usable cores."""
    wanted = os.environ.get("CAPACITY_JOBS", "").strip()
    if wanted.isdigit() and int(wanted) >= 1:
        cores = int(wanted)
    else:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    forks = sys.platform.startswith("linux") and not multiprocessing.current_process().daemon
    return max(1, min(cores, items)) if forks else 1


def _run(index: int) -> tuple[bool, Any]:
    """One item in a worker: (True, result), or (False, the exception) to raise in the parent."""
    assert _TASK is not None
    try:
        return True, _TASK(_ITEMS[index])
    except Exception as exc:  # raised again in the parent, as the serial loop would have raised it
        return False, _portable(exc)


def _portable(exc: Exception) -> Exception:
    """``exc``, or where it does not survive pickling (an error whose constructor takes more than its
    message), the nearest class above it that does with the same message: an input error stays one."""
    for cls in type(exc).__mro__:
        try:
            candidate = exc if cls is type(exc) else cls(str(exc))
            back = pickle.loads(pickle.dumps(candidate))
        except Exception:
            continue
        if type(back) is cls and isinstance(back, Exception) and str(back) == str(exc):
            return back
    return RuntimeError(f"{type(exc).__name__}: {exc}")


def ordered_map(task: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[task(x) for x in items]``, in order, spread over :func:`jobs` forked workers."""
    workers = jobs(len(items))
    if workers <= 1:
        return [task(x) for x in items]
    global _TASK, _ITEMS
    _TASK, _ITEMS = task, items
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            done = pool.map(_run, range(len(items)), chunksize=1)
    finally:
        _TASK, _ITEMS = None, ()
    results: list[R] = []
    for ok, value in done:
        if not ok:
            raise value
        results.append(value)
    return results
