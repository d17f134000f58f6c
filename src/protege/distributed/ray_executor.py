"""Episodes on Ray actors: a local cluster (`--ray auto`) or a running one (`--ray ADDRESS`).

Imported only when Ray is asked for (`pip install -e ".[ray]"`). Each actor is one long-lived worker
process that keeps a job's state (env, actor) between episodes, like a process worker; each actor runs
one episode at a time, so an actor that dies loses only the episode it was running, which is queued again
and run by another (a fresh actor replaces the dead one). Results are delivered in seed order, once.

Each actor has its next episode queued behind the running one (`depth` calls in flight), so it never waits
for the driver between episodes. An actor's calls run in submission order, so when it dies the first of
its calls to fail is the one it was running (re-run and counted in `retried`); the calls queued behind it
never started and are simply submitted again.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from protege.distributed.executor import EpisodeJob, OnResult, _InOrder, episode_error
from protege.errors import ProtegeError

RAY_EXTRA = 'pip install -e ".[ray]"'


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ProtegeError(f"--ray: expected the ray package (install it with {RAY_EXTRA}), found it missing") from None
    return ray


class _Worker:
    """The body of a Ray actor: a job's state, built once per job, and one episode per call."""

    def __init__(self) -> None:
        os.environ["OMP_NUM_THREADS"] = "1"
        import torch

        torch.set_num_threads(1)

    def pid(self) -> int:
        return os.getpid()

    def run(self, job: EpisodeJob, seed: int) -> tuple[int, Any]:
        from protege.distributed.executor import _process_run

        return _process_run(job, seed)


class RayExecutor:
    """`workers` Ray actors (one CPU each). address: "auto" starts a local cluster of `workers` CPUs in this
    process's session (`ray.init(num_cpus=workers)`), shut down on `close`; anything else connects to that
    cluster (left running on `close`)."""

    name = "ray"

    def __init__(self, workers: int, address: str = "auto", max_retries: int = 3, depth: int = 2):
        if workers < 1:
            raise ProtegeError(f"--workers: expected >= 1, found {workers}")
        self.workers, self.address, self.max_retries, self.depth = workers, address, max_retries, max(1, depth)
        self.retried: list[int] = []
        self._ray = import_ray()
        self._started = False
        self._actors: list[Any] = []
        self._cls: Any = None

    def _connect(self) -> None:
        ray = self._ray
        if ray.is_initialized():
            return
        if self.address == "auto":
            # a small object store: episodes are small and the machine may be shared
            ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=False,
                     object_store_memory=256 * 1024 * 1024, configure_logging=False)
            self._started = True
        else:
            try:
                ray.init(address=self.address, log_to_driver=False, configure_logging=False)
            except Exception as e:
                raise ProtegeError(f"--ray {self.address}: expected a running Ray cluster at that address, "
                                   f"found {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None

    def _new_actor(self) -> Any:
        if self._cls is None:
            self._cls = self._ray.remote(num_cpus=1, max_restarts=0)(_Worker)
        return self._cls.remote()

    def _ensure_actors(self) -> None:
        self._connect()
        while len(self._actors) < self.workers:
            self._actors.append(self._new_actor())

    def worker_pids(self) -> list[int]:
        """Process ids of the actors (for tests and the fault benchmark; only meaningful on a local cluster)."""
        self._ensure_actors()
        return self._ray.get([a.pid.remote() for a in self._actors])

    def map(self, job: EpisodeJob, seeds: list[int], on_result: OnResult) -> None:
        ray = self._ray
        self._ensure_actors()
        out = _InOrder(seeds, on_result)
        queue = list(seeds)
        tries = {s: 0 for s in seeds}
        job_ref = ray.put(job)
        running: dict[Any, tuple[int, int]] = {}  # object ref -> (actor index, seed)
        submitted = itertools.count()
        order: dict[int, int] = {}  # seed -> when it was last submitted

        def submit(i: int) -> None:
            seed = queue.pop(0)
            tries[seed] += 1
            order[seed] = next(submitted)
            running[self._actors[i].run.remote(job_ref, seed)] = (i, seed)

        def fill(i: int) -> None:
            while queue and sum(1 for a, _ in running.values() if a == i) < self.depth:
                submit(i)

        try:
            for _ in range(self.depth):  # one episode per actor first, so a short run spreads over every actor
                for i in range(len(self._actors)):
                    if queue:
                        submit(i)
            while running:
                done, _ = ray.wait(list(running), num_returns=1)
                ref = done[0]
                i, seed = running.pop(ref)
                try:
                    _, result = ray.get(ref)
                except ray.exceptions.RayActorError as e:  # the actor's process died: replace it, run again
                    # every call left on the dead actor, in submission order: the first was running when it
                    # died (an actor runs its calls in order); the others never started and are not retries
                    behind = [r for r, (a, _) in running.items() if a == i]
                    lost = sorted([seed] + [running.pop(r)[1] for r in behind], key=order.__getitem__)
                    ran = lost[0]
                    for s in lost[1:]:
                        tries[s] -= 1
                    if tries[ran] > self.max_retries:
                        raise ProtegeError(f"ray worker {i}: died {tries[ran]} times while running episode seed "
                                           f"{ran}; the {out.next} episodes finished before were delivered "
                                           f"({type(e).__name__})") from None
                    self._actors[i] = self._new_actor()
                    self.retried.append(ran)
                    queue[:0] = lost
                    fill(i)
                    continue
                except ray.exceptions.RayTaskError as e:  # the episode itself raised
                    cause = getattr(e, "cause", None) or e
                    raise episode_error(seed, f"ray worker {i}", cause) from None
                out.add(seed, result)
                fill(i)
        except BaseException:
            for a in self._actors:  # an actor may be mid-episode: stop them all, start afresh next time
                try:
                    ray.kill(a)
                except Exception:
                    pass
            self._actors = []
            raise

    def close(self) -> None:
        for a in self._actors:
            try:
                self._ray.kill(a)
            except Exception:
                pass
        self._actors = []
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
            self._started = False

    def __enter__(self) -> "RayExecutor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
