"""Rollout executors: run one job per episode seed in this process, in worker processes, or on Ray.

Evaluation, recording, DAgger collection and RL sampling describe their work as an `EpisodeJob` (what a
worker builds once: env, actor; and what it does for one seed) and hand a list of seeds to an `Executor`.
Results come back keyed by seed and are delivered to the caller in the order of the seeds, so a result
never depends on which executor, or which worker, ran an episode.

A worker that dies (killed, out of memory, a node lost) takes only its unfinished episodes with it: those
seeds are run again on another worker, and since only the caller (in this process) stores or counts a
result, and each seed is delivered exactly once, nothing is lost and nothing is counted twice. An episode
that *raises* is not retried (it would raise again): it ends the run with one line naming the seed.

It deliberately schedules nothing itself beyond "give the next seed to a free worker": processes come
from `concurrent.futures`, remote workers are Ray actors (`ray_executor.py`, imported only when asked).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from protege.errors import ProtegeError

OnResult = Callable[[int, Any], None]
"""Called in the caller's process as each seed's result is delivered (in seed order): (seed, result)."""


class EpisodeJob(Protocol):
    """What every worker runs: `setup()` once per worker (env, actor ...), `run(state, seed)` per episode.

    A job must be picklable for the process and Ray executors (module-level classes; factories, not live
    simulators). `key` identifies the job so a long-lived worker builds its state once per job.
    """

    key: str

    def setup(self) -> Any: ...

    def run(self, state: Any, seed: int) -> Any: ...

    def teardown(self, state: Any) -> None: ...


def new_job_key() -> str:
    return uuid.uuid4().hex


@dataclass
class FunctionJob:
    """An `EpisodeJob` from a plain function `fn(seed) -> result` (no per-worker state); picklable when fn is."""
    fn: Callable[[int], Any]
    key: str = field(default_factory=new_job_key)

    def setup(self) -> None:
        return None

    def run(self, state: Any, seed: int) -> Any:
        return self.fn(seed)

    def teardown(self, state: Any) -> None:
        pass


class Executor(Protocol):
    name: str
    workers: int
    retried: list[int]
    """Seeds run again because the worker running them died (one entry per re-run)."""

    def map(self, job: EpisodeJob, seeds: list[int], on_result: OnResult) -> None: ...

    def close(self) -> None: ...


class _InOrder:
    """Hands results to `on_result` in the order of `seeds`, each seed exactly once."""

    def __init__(self, seeds: list[int], on_result: OnResult):
        if len(set(seeds)) != len(seeds):
            raise ProtegeError(f"episode seeds: expected distinct seeds, found {len(seeds) - len(set(seeds))} repeated")
        self.seeds, self.on_result = list(seeds), on_result
        self.ready: dict[int, Any] = {}
        self.delivered: set[int] = set()
        self.next = 0

    def add(self, seed: int, result: Any) -> None:
        if seed in self.ready or seed in self.delivered:
            return  # a second copy of a seed already held or delivered is never counted again
        self.ready[seed] = result
        while self.next < len(self.seeds) and self.seeds[self.next] in self.ready:
            s = self.seeds[self.next]
            self.next += 1
            self.delivered.add(s)
            self.on_result(s, self.ready.pop(s))

    @property
    def done(self) -> bool:
        return self.next == len(self.seeds)


def episode_error(seed: int, where: str, e: BaseException) -> ProtegeError:
    """The one line an episode that raised ends the run with."""
    msg = str(e).strip().splitlines()[0] if str(e).strip() else "(no message)"
    kind = "" if isinstance(e, ProtegeError) else f"{type(e).__name__}: "
    return ProtegeError(f"episode seed {seed} ({where}): {kind}{msg}")


class LocalExecutor:
    """Today's behaviour: every episode in this process, one after the other."""

    name = "local"
    workers = 1

    def __init__(self) -> None:
        self.retried: list[int] = []

    def map(self, job: EpisodeJob, seeds: list[int], on_result: OnResult) -> None:
        out = _InOrder(seeds, on_result)
        state = job.setup()
        try:
            for s in seeds:
                out.add(s, job.run(state, s))
        finally:
            job.teardown(state)

    def close(self) -> None:
        pass

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# --- worker side (processes): one job's state kept per worker process --------------------------------
_WORKER: dict[str, Any] = {}


def worker_state(job: EpisodeJob) -> Any:
    """The state of `job` in this worker, built on first use; an earlier job's state is torn down."""
    if _WORKER.get("key") != job.key:
        if "job" in _WORKER:
            try:
                _WORKER["job"].teardown(_WORKER["state"])
            except Exception:  # a failed close of an old env must not fail the new job
                pass
        _WORKER.clear()
        _WORKER.update(key=job.key, job=job, state=job.setup())
    return _WORKER["state"]


def _init_worker() -> None:
    # one torch thread per worker: N workers on N cores, no oversubscription
    os.environ["OMP_NUM_THREADS"] = "1"
    torch = sys.modules.get("torch")  # preloaded by the fork server; a job without torch never imports it
    if torch is not None:
        torch.set_num_threads(1)


def _process_run(job: EpisodeJob, seed: int) -> tuple[int, Any]:
    return seed, job.run(worker_state(job), seed)


PRELOAD = ["torch", "protege.evaluation.rollout", "protege.envs.metaworld_tasks", "metaworld.env_dict",
           "metaworld.policies"]


class ProcessExecutor:
    """Episodes on `workers` local worker processes (forkserver: they fork from a server that imported
    torch and the simulators once, so a pool starts in well under a second after the first).

    A worker that dies breaks a `ProcessPoolExecutor` as a whole: the results finished before are kept,
    a fresh pool is started and every seed not finished yet runs again there (`max_restarts` times).
    """

    name = "processes"

    def __init__(self, workers: int, max_restarts: int = 3, preload: list[str] | None = None):
        """preload: modules the fork server imports once (default: torch and the simulators)."""
        if workers < 1:
            raise ProtegeError(f"--workers: expected >= 1, found {workers}")
        self.workers = min(workers, os.cpu_count() or 1)
        self.max_restarts = max_restarts
        self.retried: list[int] = []
        self.preload = PRELOAD if preload is None else preload
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(self.preload)
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker)
        return self._pool

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for tests and the fault benchmark)."""
        procs = getattr(self._pool, "_processes", None) or {}
        return [p.pid for p in procs.values() if p.is_alive()]

    def map(self, job: EpisodeJob, seeds: list[int], on_result: OnResult) -> None:
        out = _InOrder(seeds, on_result)
        todo = list(seeds)
        restarts = 0
        while todo:
            pool = self._get_pool()
            futures: dict[Future, int] = {pool.submit(_process_run, job, s): s for s in todo}
            lost: list[int] = []
            try:
                pending = set(futures)
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for f in finished:
                        try:
                            seed, result = f.result()
                        except BrokenProcessPool:  # its worker died: run it again on a fresh pool
                            lost.append(futures[f])
                            continue
                        except Exception as e:  # the episode itself raised: it would raise again
                            raise episode_error(futures[f], "worker process", e) from None
                        out.add(seed, result)
            except BaseException:
                self.close()  # stop the other workers at once (an error, or Ctrl-C)
                raise
            if lost:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None
                restarts += 1
                if restarts > self.max_restarts:
                    raise ProtegeError(f"process workers: a worker died {restarts} times while running episodes "
                                       f"(seeds {sorted(lost)[:5]}{' ...' if len(lost) > 5 else ''} unfinished); "
                                       f"the {out.next} episodes finished before were delivered")
                self.retried.extend(sorted(lost))
            todo = sorted(lost, key=seeds.index)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> "ProcessExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def make_executor(workers: int = 1, ray: str | None = None) -> Executor:
    """The executor for `--workers N` and `--ray auto|ADDRESS`.

    ray: None = no Ray; "auto" = start a local Ray cluster with `workers` CPUs (`ray.init`); anything else
        is the address of a running cluster (`ray://host:10001` or `host:6379`), with `workers` actors.
    workers: 1 without Ray = this process; N > 1 = N worker processes.
    """
    if workers < 1:
        raise ProtegeError(f"--workers: expected >= 1, found {workers}")
    if ray:
        from protege.distributed.ray_executor import RayExecutor

        return RayExecutor(workers, address=ray)
    return LocalExecutor() if workers == 1 else ProcessExecutor(workers)
