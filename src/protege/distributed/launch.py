"""Start N ranks on this machine with torch's elastic launcher (the machinery behind torchrun).

`protege train --nproc N` and Python callers use `launch(fn, nproc, *args)`: N processes, each with
RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR set as torchrun sets them, each calling `fn(*args)`. Several
machines are torchrun's job (`torchrun --nnodes 2 --rdzv-endpoint HOST:PORT ... -m protege train ...`):
nothing here is needed for that, since a rank finds everything in its environment.

A rank that raises prints one line (`error: training rank 1 of 2 failed at step 40: ...`) and exits with
status 2; the launcher stops the other ranks, and `launch` raises one line naming every failed rank and
how it ended (exit status or signal).
"""

from __future__ import annotations

import logging
import os
import sys
import types
import uuid
from dataclasses import fields, is_dataclass
from typing import Any, Callable

from protege.errors import ProtegeError


def _rank_main(fn: Callable[..., Any], *args: Any) -> Any:
    """A rank's body: `fn(*args)`; any failure ends in one line on stderr and exit status 2."""
    try:
        return fn(*args)
    except ProtegeError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
    except Exception as e:  # still one line; the traceback is not what a user reads here
        msg = str(e).strip().splitlines()[0] if str(e).strip() else "(no message)"
        rank = os.environ.get("RANK", "?")
        print(f"error: internal: rank {rank}: {type(e).__name__}: {msg}", file=sys.stderr, flush=True)
    from protege.progress import discard_open_bars

    discard_open_bars()
    raise SystemExit(2)


def _describe_failures(error: Any) -> str:
    parts = []
    for rank, failure in sorted(getattr(error, "failures", {}).items()):
        if failure.exitcode is not None and failure.exitcode < 0:
            how = f"was killed by {failure.signal_name()}"
        else:
            how = f"exited with status {failure.exitcode}"
        parts.append(f"rank {rank} {how}")
    return "; ".join(parts) or str(error).strip().splitlines()[0]


def launch(fn: Callable[..., Any], nproc: int, *args: Any, max_restarts: int = 0) -> dict[int, Any]:
    """Run `fn(*args)` on `nproc` local ranks (rendezvous on localhost, a free port); {rank: return value}.

    fn: a module-level function (the ranks are spawned processes that import it); its arguments must pickle.
    max_restarts: restart all ranks this many times after a failure. Each restart calls `fn` afresh; to continue
        rather than start over, `fn` passes `train_bc(..., save_state=True, resume=restart_count() > 0)`, as
        `protege train --nproc N --max-restarts K` does.
    """
    if nproc < 1:
        raise ProtegeError(f"--nproc: expected >= 1, found {nproc}")
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=f"protege-{uuid.uuid4().hex[:8]}",
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=max_restarts,
                          monitor_interval=0.1, start_method="spawn")
    # the launcher's own log lines (workers started, stopped, restarted) are not for the user's terminal
    # (a failure is reported by the failing rank's own line and the one line raised here)
    loggers = [logging.getLogger(n) for n in ("torch.distributed.elastic", "torch.multiprocessing")]
    levels = [q.level for q in loggers]
    for q in loggers:
        q.setLevel(logging.CRITICAL if max_restarts == 0 else logging.WARNING)
    try:
        return elastic_launch(config, _rank_main)(fn, *args)
    except ChildFailedError as e:
        raise ProtegeError(f"training on {nproc} ranks: {_describe_failures(e)} (the line above, if any, is the "
                           f"failing rank's own error); the checkpoint written so far is kept") from None
    finally:
        for q, level in zip(loggers, levels):
            q.setLevel(level)


def plain_args(args: Any) -> types.SimpleNamespace:
    """A command's `Args` (a dataclass, possibly made on the fly and so not picklable) as a namespace of its
    field values, which a spawned rank can receive."""
    if not is_dataclass(args):
        return args
    return types.SimpleNamespace(**{f.name: getattr(args, f.name) for f in fields(args)})


def restart_count() -> int:
    """How many times the launcher restarted this group (0 on the first attempt)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0)
