"""Execution strategies: receding-horizon queue and temporal ensembling, against hand-computed values."""

import math

import pytest
import torch

from protege.policies.execution import ActionQueue, TemporalEnsembler, make_executor


class ChunkSource:
    """Chunk number c has action value 10 c + h at step h: (1, H, 1)."""

    def __init__(self, horizon: int):
        self.horizon, self.calls = horizon, 0

    def __call__(self) -> torch.Tensor:
        c = self.calls
        self.calls += 1
        return (10.0 * c + torch.arange(self.horizon, dtype=torch.float32)).view(1, self.horizon, 1)


def test_queue_executes_first_n_then_predicts_again():
    q, src = ActionQueue(n_action_steps=3), ChunkSource(horizon=5)
    got = [float(q.step(src)) for _ in range(7)]
    assert got == [0, 1, 2, 10, 11, 12, 20]
    assert src.calls == 3


def test_queue_reset_drops_queued_actions():
    q, src = ActionQueue(2), ChunkSource(4)
    q.step(src)
    assert len(q) == 1
    q.reset()
    assert len(q) == 0
    assert float(q.step(src)) == 10.0  # a fresh chunk, not the stale queued action 1


def test_ensemble_weights_match_hand_computed():
    e = TemporalEnsembler(m=0.5, horizon=4)
    w = e.weights(3)
    raw = [1.0, math.exp(-0.5), math.exp(-1.0)]
    assert torch.allclose(w, torch.tensor([r / sum(raw) for r in raw]), atol=1e-6)


def test_ensemble_blends_live_chunks_oldest_first():
    m, H = 0.5, 3
    e, src = TemporalEnsembler(m=m, horizon=H), ChunkSource(H)
    w2 = [1.0, math.exp(-m)]
    w3 = [1.0, math.exp(-m), math.exp(-2 * m)]
    a0 = float(e.step(src))  # only chunk 0 -> its step 0
    a1 = float(e.step(src))  # chunk 0 step 1 (=1), chunk 1 step 0 (=10)
    a2 = float(e.step(src))  # chunk 0 step 2 (=2), chunk 1 step 1 (=11), chunk 2 step 0 (=20)
    a3 = float(e.step(src))  # chunk 0 expired: chunk 1 step 2 (=12), chunk 2 step 1 (=21), chunk 3 step 0 (=30)
    assert a0 == pytest.approx(0.0)
    assert a1 == pytest.approx((1 * w2[0] + 10 * w2[1]) / sum(w2), rel=1e-6)
    assert a2 == pytest.approx((2 * w3[0] + 11 * w3[1] + 20 * w3[2]) / sum(w3), rel=1e-6)
    assert a3 == pytest.approx((12 * w3[0] + 21 * w3[1] + 30 * w3[2]) / sum(w3), rel=1e-6)
    assert src.calls == 4  # ensembling predicts on every step


def test_ensemble_with_m_zero_is_a_plain_mean_and_reset_clears():
    e, src = TemporalEnsembler(m=0.0, horizon=2), ChunkSource(2)
    e.step(src)
    assert float(e.step(src)) == pytest.approx((1 + 10) / 2)
    e.reset()
    assert len(e) == 0
    assert float(e.step(src)) == pytest.approx(20.0)  # only the new chunk's first step


def test_make_executor_rejects_unknown_strategy():
    assert isinstance(make_executor("receding", 4, 2, 0.1), ActionQueue)
    assert isinstance(make_executor("ensemble", 4, 2, 0.1), TemporalEnsembler)
    with pytest.raises(ValueError, match="execution"):
        make_executor("bogus", 4, 2, 0.1)
