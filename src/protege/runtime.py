"""The process-wide settings protege chooses itself rather than inheriting from the environment.

torch picks its intra-op thread count from OMP_NUM_THREADS or the core count, and a float reduction split
over a different number of threads sums in a different order: the same seed then trains a slightly
different network. So the library sets the count itself (`set_threads`), every command takes `--threads`,
and training records the count it used in the checkpoint's config.json.
"""

from __future__ import annotations

import os

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


def set_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count; returns the count set.

    An explicit count (>= 1) is applied and remembered for the process; None or 0 applies the remembered
    count, or `default_threads()` if none was ever given. So `protege --threads 1 ...` (or a benchmark
    calling `set_threads(1)` once) holds for every later training run that asks for "the default".
    """
    global _chosen
    import torch

    if threads is not None and (not isinstance(threads, int) or threads < 0):
        from protege.errors import bad_input

        raise bad_input(None, "threads", "an integer >= 1 (0 = the default)", repr(threads))
    if threads:
        _chosen = int(threads)
    n = _chosen or default_threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
