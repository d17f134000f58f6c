"""BC learns: trained briefly on expert demos of pendulum swing-up, it swings up and balances.

The bar: 85% of 20 held-out episodes. The expert scores 100% and the PD expert (balancing without a
swing-up) ~25%, so passing the bar needs the learned policy to have picked up the swing-up itself.
"""

import numpy as np

from protege.algos.bc import TrainConfig, train_bc
from protege.checkpoint import PolicyActor, load_checkpoint
from protege.data import load_dataset
from protege.envs import ExpertFactory, get_task
from protege.evaluation.evaluate import evaluate
from protege.recording import record_expert


def test_bc_learns_pendulum_swing_up(tmp_path):
    record_expert("pendulum", 20, tmp_path / "ds", seed=0, noise=0.1)
    ds = load_dataset(tmp_path / "ds")
    result = train_bc(ds, "mlp", None, TrainConfig(steps=1500, seed=0, threads=1), out=tmp_path / "ck")
    assert result.best_val_loss < 0.1
    policy = load_checkpoint(tmp_path / "ck")
    task = get_task("pendulum")
    ev = evaluate(task, lambda: PolicyActor(policy), episodes=20, seed=0,
                  training_seeds=ds.meta["provenance"]["episode_seeds"])
    # measured with 20 demos: 20/20 for training seeds 0-3 at 1 thread (best_val_loss <= 0.0083); with 10 demos
    # seed 0 scored 15/20 at 1 thread and 20/20 at 2, so the earlier 10-demo bar held only at some thread counts
    assert ev.summary.success_rate >= 0.85, ev.summary


def test_training_is_reproducible_with_a_seed(tmp_path, make_episode):
    from protege.data import Dataset
    from protege.specs import ArraySpec, Spec

    ds = Dataset([make_episode(T=30, seed=i) for i in range(6)], Spec({"state": ArraySpec((3,))}, ArraySpec((2,))))
    a = train_bc(ds, "mlp", None, TrainConfig(steps=60, eval_every=20, seed=3))
    b = train_bc(ds, "mlp", None, TrainConfig(steps=60, eval_every=20, seed=3))
    for (k, v), (_, w) in zip(a.policy.state_dict().items(), b.policy.state_dict().items()):
        assert np.array_equal(v.numpy(), w.numpy()), k
