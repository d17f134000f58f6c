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


def set_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count (None or 0 = `default_threads()`); returns the count set."""
    import torch

    n = default_threads() if not threads else int(threads)
    if n < 1:
        from protege.errors import bad_input

        raise bad_input(None, "threads", "an integer >= 1 (0 = the default)", str(threads))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
