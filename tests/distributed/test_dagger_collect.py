"""DAgger collection on an executor: the same gated episodes and expert labels in this process and on worker
processes, and a worker killed mid-episode loses no label and counts none twice."""

import numpy as np
import pytest
import torch

from protege.algos.ensemble import Learner
from protege.algos.dagger.gates import DaggerGate
from protege.algos.dagger.loop import CollectJob
from protege.distributed.executor import LocalExecutor, ProcessExecutor
from protege.distributed.faults import KillOnce, finished_seeds
from protege.envs import get_task
from protege.policies import make_policy
from protege.policies.gmm import GMMConfig


def _job():
    task = get_task("pendulum")
    torch.manual_seed(0)  # a sampling head: each episode must seed its own draws
    learner = Learner([make_policy("gmm", GMMConfig(hidden_dims=(16,), sample="full"), task.spec, None)])
    gate = DaggerGate("constant", 0.5, 0.5, 3)
    gate.start_round(1, learner, [])
    return CollectJob(task.name, learner, task.make_expert(), gate)


def _collect(executor, job, seeds):
    got = {}
    executor.map(job, seeds, got.__setitem__)
    return got


@pytest.mark.slow  # a worker pool that imports the simulators
def test_processes_collect_the_same_labels_and_a_killed_worker_loses_none(tmp_path):
    seeds = [500, 501, 502, 503]
    job = _job()
    with LocalExecutor() as ex:
        here = _collect(ex, job, seeds)
    with ProcessExecutor(2) as ex:
        there = _collect(ex, KillOnce(job, 502, str(tmp_path)), seeds)
        assert 502 in ex.retried
    assert finished_seeds(tmp_path).count(502) == 1
    assert list(there) == seeds
    for s in seeds:
        a, b = here[s], there[s]
        assert np.array_equal(a.actions, b.actions) and np.array_equal(a.labels, b.labels)
        assert np.array_equal(a.label_mask, b.label_mask) and np.array_equal(a.source, b.source)
    assert sum(e.num_labels for e in there.values()) == sum(e.num_labels for e in here.values()) > 0
