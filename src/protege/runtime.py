"""The process-wide settings protege chooses itself rather than inheriting from the environment.

torch picks its intra-op thread count from OMP_NUM_THREADS or the core count, and a float reduction split
over a different number of threads sums in a different order: the same seed then trains a slightly
different network. So the library sets the count itself (`set_threads`), every command takes `--threads`,
and training records the count it used in the checkpoint's config.json.

Small work is the exception. RL sampling runs one batched forward of a small MLP per environment step,
microseconds of arithmetic that more threads only slow down with hand-offs (adroit/door: 0.16 s CPU per
200-step episode at one thread, 0.68 s at two), and whose last bits depend on the thread count, which a
hand simulation turns into different episodes; so sampling always runs at one thread (`torch_threads(1)`
in `algos/rl/rollout.py`). RL's updates run at `small_work_threads()`: one, unless a count was chosen
explicitly (`protege --threads N`).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

DEFAULT_MAX_THREADS = 4
"""The default is the usable cores, capped here: small state-based networks gain nothing past a few threads."""


def default_threads() -> int:
    """Usable cores (the process's CPU affinity), capped at `DEFAULT_MAX_THREADS`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(DEFAULT_MAX_THREADS, cores))


_chosen: int | None = None  # the count last asked for explicitly in this process (e.g. by `--threads`)


def remember_threads(threads: int | None) -> None:
    """Keep an explicit count (>= 1) for every later `set_threads()` without importing torch now (None or 0:
    nothing to remember)."""
    global _chosen
    if threads is not None and (not isinstance(threads, int) or threads < 0):
        from protege.errors import bad_input

        raise bad_input(None, "threads", "an integer >= 1 (0 = the default)", repr(threads))
    if threads:
        _chosen = int(threads)


def set_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count; returns the count set.

    An explicit count (>= 1) is applied and remembered for the process; None or 0 applies the remembered
    count, or `default_threads()` if none was ever given. So `protege --threads 1 ...` (or a benchmark
    calling `set_threads(1)` once) holds for every later training run that asks for "the default".
    """
    import torch

    remember_threads(threads)
    n = _chosen or default_threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n



SMALL_WORK_THREADS = 1
"""torch threads for small per-iteration work (RL's policy and value updates) when no count was chosen."""


def small_work_threads() -> int:
    """The count for small work: the one chosen explicitly (`set_threads(N)`, `protege --threads N`), else
    `SMALL_WORK_THREADS`."""
    return _chosen or SMALL_WORK_THREADS


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block at `n` torch threads, restoring the previous count afterwards."""
    import torch

    before = torch.get_num_threads()
    if n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
