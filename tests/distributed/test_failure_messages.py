"""The one line a user reads when a training rank or a rollout worker fails: which rank or worker, and what it
was doing. Fast: no process group, no worker process and no Ray cluster is started (the launcher and Ray are
stood in for at their seams; the slow tests in test_ddp.py and test_executors.py run the real ones)."""

from __future__ import annotations

import re

import _jobs
import pytest
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

import protege.distributed.ray_executor as ray_executor
from protege.distributed import launch as launch_module
from protege.distributed.ddp import RankContext, rank_failure
from protege.distributed.executor import FunctionJob
from protege.errors import ProtegeError


# --- training ranks ----------------------------------------------------------------------------------------
def test_a_rank_failure_is_one_line_naming_rank_step_and_error():
    ctx = RankContext(rank=1, world_size=4)
    e = rank_failure(ctx, 12, ValueError("injected failure\n  with a second line"))
    assert str(e) == "training rank 1 of 4 failed at step 12: ValueError: injected failure"
    assert str(rank_failure(ctx, 3, ProtegeError("dataset x: field 'y': expected a, found b"))) == \
        "training rank 1 of 4 failed at step 3: dataset x: field 'y': expected a, found b"


def test_a_rank_that_lost_its_peer_says_so():
    class DistBackendError(RuntimeError):  # what torch raises when the other end of a collective vanished
        pass

    e = rank_failure(RankContext(rank=0, world_size=2), 40, DistBackendError("NCCL error: remote process exited"))
    assert str(e) == ("training rank 0 of 2 failed at step 40: DistBackendError: NCCL error: remote process exited "
                      "(another rank probably stopped)")


def test_the_launcher_names_every_failed_rank_and_how_it_ended(monkeypatch):
    failures = {1: ProcessFailure(local_rank=1, pid=4242, exitcode=-9, error_file=""),
                0: ProcessFailure(local_rank=0, pid=4241, exitcode=2, error_file="")}

    def failing_launch(config, entrypoint):
        def run(*args):
            raise ChildFailedError("protege", failures)
        return run

    import torch.distributed.launcher.api as api

    monkeypatch.setattr(api, "elastic_launch", failing_launch)
    with pytest.raises(ProtegeError) as e:
        launch_module.launch(print, 2)
    assert str(e.value) == ("training on 2 ranks: rank 0 exited with status 2; rank 1 was killed by SIGKILL (the line "
                            "above, if any, is the failing rank's own error); the checkpoint written so far is kept")


def test_a_rank_body_ends_in_one_line_and_status_2(monkeypatch, capsys):
    monkeypatch.setenv("RANK", "3")

    def crash():
        raise RuntimeError("state lost\nmore detail")

    with pytest.raises(SystemExit) as e:
        launch_module._rank_main(crash)
    assert e.value.code == 2
    assert capsys.readouterr().err == "error: internal: rank 3: RuntimeError: state lost\n"  # the first line only

    def refused():
        raise rank_failure(RankContext(rank=3, world_size=4), 7, ValueError("bad batch"))

    with pytest.raises(SystemExit):
        launch_module._rank_main(refused)
    assert capsys.readouterr().err == "error: training rank 3 of 4 failed at step 7: ValueError: bad batch\n"


# --- Ray workers (a stand-in for the ray module: actors run in this process) --------------------------------
class _FakeRay:
    """Just what `RayExecutor` calls. An actor "dies" while running a seed in `dies` (the first `times` tries)."""

    class exceptions:
        class RayActorError(Exception):
            pass

        class RayTaskError(Exception):
            def __init__(self, cause):
                super().__init__(str(cause))
                self.cause = cause

    def __init__(self, dies: set[int], times: int):
        self.dies, self.times, self.tries = dies, times, {}

    def is_initialized(self):
        return True

    def put(self, obj):
        return obj

    def remote(self, **options):
        fake = self

        class Actor:  # like a Ray actor: calls run in order, and once its process died every later call fails
            def __init__(self):
                self.run, self.dead = self, False

            def remote(self, job, seed):
                return lambda: fake._run(self, job, seed)

        class ActorClass:
            @staticmethod
            def remote():
                return Actor()

        return lambda cls: ActorClass

    def _run(self, actor, job, seed):
        if actor.dead:
            raise self.exceptions.RayActorError("The actor died unexpectedly before finishing this task.")
        self.tries[seed] = self.tries.get(seed, 0) + 1
        if seed in self.dies and self.tries[seed] <= self.times:
            actor.dead = True
            raise self.exceptions.RayActorError("The actor died unexpectedly before finishing this task.")
        try:
            return seed, job.run(None, seed)
        except Exception as e:
            raise self.exceptions.RayTaskError(e) from None

    def wait(self, refs, num_returns=1):
        return refs[:1], refs[1:]

    def get(self, ref):
        return ref()

    def kill(self, actor):
        pass


def _executor(monkeypatch, dies=(), times=0):
    fake = _FakeRay(set(dies), times)
    monkeypatch.setattr(ray_executor, "import_ray", lambda: fake)
    return ray_executor.RayExecutor(2, "auto", max_retries=3), fake


def test_a_ray_worker_that_keeps_dying_ends_in_one_line_naming_worker_and_episode(monkeypatch):
    ex, fake = _executor(monkeypatch, dies={3}, times=99)
    got = []
    with pytest.raises(ProtegeError) as e:
        ex.map(FunctionJob(_jobs.times_ten), list(range(6)), lambda s, r: got.append(s))
    msg = str(e.value)
    assert "\n" not in msg
    assert re.fullmatch(r"ray worker [01]: died 4 times while running episode seed 3; the 3 episodes finished "
                        r"before were delivered \(RayActorError\)", msg), msg
    assert got == [0, 1, 2] and fake.tries[3] == 4  # the first try and max_retries=3 reruns


def test_a_ray_worker_that_dies_once_has_its_episode_rerun_and_delivered_once(monkeypatch):
    ex, fake = _executor(monkeypatch, dies={3}, times=1)
    got = []
    ex.map(FunctionJob(_jobs.times_ten), list(range(6)), lambda s, r: got.append((s, r)))
    assert got == [(s, 10 * s) for s in range(6)]
    # the episode queued behind seed 3 on the same actor failed with it but never ran: not a retry
    assert ex.retried == [3] and fake.tries[3] == 2
    assert all(fake.tries[s] == 1 for s in range(6) if s != 3)


def test_an_episode_that_raises_on_a_ray_worker_names_seed_and_worker(monkeypatch):
    ex, _ = _executor(monkeypatch)
    with pytest.raises(ProtegeError, match=r"^episode seed 3 \(ray worker [01]\): bad episode$"):
        ex.map(FunctionJob(_jobs.raises_on_3), list(range(6)), lambda s, r: None)
