"""Chunk execution in deploy: the controller eval runs (sync), and opt-in asynchronous inference that never
makes the loop wait."""

import threading

import numpy as np
import pytest

from protege.controller import ExecutionSettings
from protege.deploy import ChunkExecutor
from protege.errors import ProtegeError


class StepChunks:
    """A chunking head whose chunk predicted at step s is [s, s+1, ..., s+H-1] (one action dim), so the
    executed value shows which step's plan it came from. `gate` (when set) blocks inference until released."""

    obs_keys, normal, name = ["t"], None, "steps"

    def __init__(self, horizon, execute, gate=None, execution="receding"):
        self.settings = ExecutionSettings(horizon=horizon, n_action_steps=execute, execution=execution)
        self.gate = gate
        self.calls = []
        self.called = threading.Event()

    def predict(self, history, noise):
        s = int(history["t"][0, -1])
        self.calls.append(s)
        self.called.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        return (s + np.arange(self.settings.horizon, dtype=np.float32))[None, :, None]


def obs(t):
    return {"t": np.float32(t)}


def test_sync_executes_the_chunk_then_replans():
    ex = ChunkExecutor(StepChunks(4, 3))
    assert not ex.asynchronous  # the default: eval's actions
    out = [float(ex.act(obs(t))[0]) for t in range(7)]
    assert out == [0, 1, 2, 3, 4, 5, 6]  # replans at 0, 3 and 6, each from the current step
    assert ex.predictor.calls == [0, 3, 6]


def test_sync_runs_the_temporal_ensemble_and_prime_does_not_observe_twice():
    ex = ChunkExecutor(StepChunks(3, 1, execution="ensemble"))
    ex.prime(obs(0))
    out = [float(ex.act(obs(t))[0]) for t in range(3)]
    # every live chunk predicts step t as t: the blend is t whatever the weights, one prediction per step
    assert out == pytest.approx([0, 1, 2]) and ex.predictor.calls == [0, 1, 2]


def test_async_is_refused_for_the_temporal_ensemble():
    with pytest.raises(ProtegeError, match="asynchronous needs receding-horizon execution"):
        ChunkExecutor(StepChunks(4, 1, execution="ensemble"), asynchronous=True)


def test_async_uses_the_fresh_chunk_from_the_current_step_and_holds_when_starved():
    gate = threading.Event()
    pred = StepChunks(horizon=8, execute=4, gate=gate)
    ex = ChunkExecutor(pred, asynchronous=True, period_s=1.0)  # margin: 1 + 1 step
    gate.set()
    ex.prime(obs(0))
    gate.clear()  # from now on, inference hangs until released
    pred.called.clear()
    out = [float(ex.act(obs(0))[0])]  # step 0 from the primed chunk
    for t in range(1, 6):
        out.append(float(ex.act(obs(t))[0]))
    # steps 0-3 come from the first chunk; a new inference started at step 2 (2 actions left) and hangs,
    # so steps 4 and 5 hold the last action instead of waiting
    assert out == [0, 1, 2, 3, 3, 3] and ex.starved == 2
    assert pred.called.wait(10) and pred.calls == [0, 2]
    gate.set()
    ex._job.result(timeout=10)
    # the chunk planned at step 2 arrives at step 6: its actions for steps 2..5 are stale and dropped, and
    # the rest of it (beyond the 4 normally executed) is used rather than holding on
    assert [float(ex.act(obs(t))[0]) for t in (6, 7)] == [6.0, 7.0]
    ex.close()


def test_observation_history_repeats_the_first_observation():
    seen = []

    class Hist:
        obs_keys, settings, normal, name = ["t"], ExecutionSettings(n_obs=3), None, "hist"

        def predict(self, history, noise):
            seen.append(history["t"][0].tolist())
            return np.zeros((1, 1, 1), np.float32)

    ex = ChunkExecutor(Hist())
    for t in (5, 6, 7, 8):
        ex.act(obs(t))
    assert seen == [[5, 5, 5], [5, 5, 6], [5, 6, 7], [6, 7, 8]]
