"""Rollout executors: the same per-seed results in this process, in worker processes and on Ray; a worker
that dies mid-episode has that episode run again elsewhere, delivered exactly once."""

from __future__ import annotations

import _jobs
import numpy as np
import pytest

from protege.distributed.executor import FunctionJob, LocalExecutor, ProcessExecutor
from protege.distributed.faults import KillOnce, finished_seeds
from protege.envs import ExpertFactory, get_task
from protege.errors import ProtegeError
from protege.evaluation.rollout import eval_seeds, run_episodes


def _per_seed(results):
    return {r.seed: (r.success, r.ret, r.length, r.episode.actions if r.episode is not None else None)
            for r in results}


def _same(a, b):
    assert a.keys() == b.keys()
    for s in a:
        assert a[s][:3] == b[s][:3], s
        assert np.array_equal(a[s][3], b[s][3]), s


LIGHT = ["protege.distributed.executor"]  # these jobs need no simulator in the workers


@pytest.mark.slow  # ~10 s: a worker pool that imports the simulators
def test_processes_match_in_process_per_seed():
    task = get_task("pendulum")
    seeds = eval_seeds(0, 6)
    local = run_episodes(task, ExpertFactory(task.name), seeds, keep_episodes=True)
    with ProcessExecutor(2) as ex:
        procs = run_episodes(task, ExpertFactory(task.name), seeds, keep_episodes=True, executor=ex)
    assert [r.seed for r in procs] == seeds  # delivered in seed order
    _same(_per_seed(local), _per_seed(procs))


def test_dead_process_worker_episode_rerun_exactly_once(tmp_path):
    seeds = list(range(12))
    got = []
    with ProcessExecutor(2, preload=LIGHT) as ex:
        ex.map(KillOnce(FunctionJob(_jobs.times_ten), 5, str(tmp_path)), seeds, lambda s, r: got.append((s, r)))
        assert 5 in ex.retried
    assert got == [(s, s * 10) for s in seeds]  # nothing lost, nothing twice, in order
    assert finished_seeds(tmp_path).count(5) == 1  # the killed episode finished exactly once (on the rerun)
    assert sorted(set(finished_seeds(tmp_path))) == seeds


def test_episode_error_is_one_line_naming_the_seed():
    with LocalExecutor() as ex, pytest.raises(ProtegeError, match="bad episode"):  # in this process: as raised
        ex.map(FunctionJob(_jobs.raises_on_3), list(range(6)), lambda s, r: None)
    with ProcessExecutor(2, preload=LIGHT) as ex, pytest.raises(ProtegeError, match=r"^episode seed 3 \(worker process\): bad episode$"):
        ex.map(FunctionJob(_jobs.raises_on_3), list(range(6)), lambda s, r: None)


@pytest.fixture(scope="module")
def ray_executor():
    """A local Ray cluster of 2 CPUs (starting one takes seconds: the Ray tests are marked slow)."""
    pytest.importorskip("ray", reason="ray is not installed (pip install -e '.[ray]')")
    import ray.cloudpickle

    from protege.distributed.ray_executor import RayExecutor

    # the tests' folder is not importable in a Ray worker: the jobs' functions travel by value
    ray.cloudpickle.register_pickle_by_value(_jobs)
    ex = RayExecutor(2, "auto")
    yield ex
    ex.close()


@pytest.mark.slow
def test_ray_matches_in_process_per_seed(ray_executor):
    task = get_task("pendulum")
    seeds = eval_seeds(0, 6)
    local = run_episodes(task, ExpertFactory(task.name), seeds, keep_episodes=True)
    remote = run_episodes(task, ExpertFactory(task.name), seeds, keep_episodes=True, executor=ray_executor)
    _same(_per_seed(local), _per_seed(remote))


@pytest.mark.slow
def test_dead_ray_worker_episode_rerun_exactly_once(ray_executor, tmp_path):
    seeds = list(range(10))
    got = []
    ray_executor.map(KillOnce(FunctionJob(_jobs.times_ten), 4, str(tmp_path)), seeds, lambda s, r: got.append((s, r)))
    assert got == [(s, s * 10) for s in seeds]
    assert ray_executor.retried[-1:] == [4]
    # a Ray actor runs one episode at a time: only the killed one is lost, and it finishes once, on its rerun
    assert sorted(finished_seeds(tmp_path)) == seeds


@pytest.mark.slow
def test_ray_episode_error_is_one_line(ray_executor):
    with pytest.raises(ProtegeError, match=r"episode seed 3 \(ray worker \d\): bad episode"):
        ray_executor.map(FunctionJob(_jobs.raises_on_3), list(range(6)), lambda s, r: None)
