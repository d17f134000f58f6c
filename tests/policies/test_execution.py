"""Execution strategies of the one controller: receding-horizon queue and temporal ensembling, against
hand-computed values; history, held draws and the one-line error for a bad strategy name."""

import math

import numpy as np
import pytest

from protege.controller import Controller, ExecutionSettings
from protege.errors import ProtegeError
from protege.policies.execution import ActionQueue, TemporalEnsembler, make_executor


class ChunkSource:
    """Chunk number c has action value 10 c + h at step h: (1, H, 1)."""

    def __init__(self, horizon: int):
        self.horizon, self.calls = horizon, 0

    def __call__(self) -> np.ndarray:
        c = self.calls
        self.calls += 1
        return (10.0 * c + np.arange(self.horizon, dtype=np.float32)).reshape(1, self.horizon, 1)


def test_queue_executes_first_n_then_predicts_again():
    q, src = ActionQueue(n_action_steps=3), ChunkSource(horizon=5)
    got = [float(q.step(src)[0, 0]) for _ in range(7)]
    assert got == [0, 1, 2, 10, 11, 12, 20]
    assert src.calls == 3


def test_queue_reset_drops_queued_actions():
    q, src = ActionQueue(2), ChunkSource(4)
    q.step(src)
    assert len(q) == 1
    q.reset()
    assert len(q) == 0
    assert float(q.step(src)[0, 0]) == 10.0  # a fresh chunk, not the stale queued action 1


def test_ensemble_weights_match_hand_computed():
    e = TemporalEnsembler(m=0.5, horizon=4)
    raw = [1.0, math.exp(-0.5), math.exp(-1.0)]
    np.testing.assert_allclose(e.weights(3), [r / sum(raw) for r in raw], atol=1e-6)


def test_ensemble_blends_live_chunks_oldest_first():
    m, H = 0.5, 3
    e, src = TemporalEnsembler(m=m, horizon=H), ChunkSource(H)
    w2 = [1.0, math.exp(-m)]
    w3 = [1.0, math.exp(-m), math.exp(-2 * m)]
    a = [float(e.step(src)[0, 0]) for _ in range(4)]
    assert a[0] == pytest.approx(0.0)  # only chunk 0 -> its step 0
    assert a[1] == pytest.approx((1 * w2[0] + 10 * w2[1]) / sum(w2), rel=1e-6)
    assert a[2] == pytest.approx((2 * w3[0] + 11 * w3[1] + 20 * w3[2]) / sum(w3), rel=1e-6)
    # chunk 0 expired: chunk 1 step 2 (=12), chunk 2 step 1 (=21), chunk 3 step 0 (=30)
    assert a[3] == pytest.approx((12 * w3[0] + 21 * w3[1] + 30 * w3[2]) / sum(w3), rel=1e-6)
    assert src.calls == 4  # ensembling predicts on every step


def test_ensemble_with_m_zero_is_a_plain_mean_and_reset_clears():
    e, src = TemporalEnsembler(m=0.0, horizon=2), ChunkSource(2)
    e.step(src)
    assert float(e.step(src)[0, 0]) == pytest.approx((1 + 10) / 2)
    e.reset()
    assert len(e) == 0
    assert float(e.step(src)[0, 0]) == pytest.approx(20.0)  # only the new chunk's first step


def test_make_executor_rejects_unknown_strategy_in_one_line():
    assert isinstance(make_executor("receding", 4, 2, 0.1), ActionQueue)
    assert isinstance(make_executor("ensemble", 4, 2, 0.1), TemporalEnsembler)
    with pytest.raises(ProtegeError, match="field 'execution': expected one of"):
        make_executor("bogus", 4, 2, 0.1)
    with pytest.raises(ProtegeError, match="field 'n_action_steps'"):
        ExecutionSettings(horizon=2, n_action_steps=3)


def test_controller_holds_the_listed_noise_channels_for_the_episode():
    seen = []

    def predict(history, noise):
        seen.append(noise.copy())
        return np.zeros((1, 1, 1), np.float32)

    rng = np.random.default_rng(0)
    c = Controller(ExecutionSettings(noise_shape=(1, 3), held=(0,)), predict, ["x"],
                   normal=lambda shape: rng.standard_normal(shape, dtype=np.float32))
    for _ in range(3):
        c.act({"x": np.zeros((1, 2))})
    assert len({float(n[0, 0, 0]) for n in seen}) == 1  # channel 0: drawn once
    assert len({float(n[0, 0, 1]) for n in seen}) == 3  # the rest: fresh every prediction
    c.reset()
    c.act({"x": np.zeros((1, 2))})
    assert seen[-1][0, 0, 0] != seen[0][0, 0, 0]  # a new episode draws again


def test_exported_settings_out_of_range_name_the_file():
    d = {**ExecutionSettings(horizon=4, n_action_steps=2).to_dict(), "n_action_steps": 9}
    with pytest.raises(ProtegeError, match=r"^model.onnx: execution settings: field 'n_action_steps'"):
        ExecutionSettings.from_dict(d, "model.onnx")
