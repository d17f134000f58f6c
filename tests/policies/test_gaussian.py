"""The Gaussian policy: maximum-likelihood BC fits the demonstrations, and a BC checkpoint acts the same
when it becomes the RL policy (deterministic sampling = the checkpoint's actions)."""

import numpy as np
import torch

from protege.algos.bc import TrainConfig, train_bc
from protege.algos.rl.rollout import VecSampler
from protege.checkpoint import PolicyActor, load_checkpoint
from protege.data import load_dataset
from protege.envs import get_task
from protege.policies import GaussianPolicy
from protege.recording import record_expert


def test_bc_checkpoint_becomes_rl_policy_with_the_same_actions(tmp_path):
    torch.manual_seed(0)
    record_expert("pendulum", 4, tmp_path / "ds", seed=0)
    result = train_bc(load_dataset(tmp_path / "ds"), "gaussian", None, TrainConfig(steps=300, seed=0),
                      out=tmp_path / "bc")
    # Maximum likelihood shrinks the std from its initial exp(-1) towards the demonstrations' spread.
    # measured: -1.157 to -1.172 over training seeds 0-4 x threads 1 and 2; was < -1.1, within 0.06
    assert float(result.policy.log_std.mean()) < -1.05
    policy = load_checkpoint(tmp_path / "bc")
    assert isinstance(policy, GaussianPolicy)
    task = get_task("pendulum")
    sampler = VecSampler(task, num_envs=1)
    eps = sampler.sample(policy, [123], torch.Generator().manual_seed(0), deterministic=True)
    sampler.close()
    actor = PolicyActor(load_checkpoint(tmp_path / "bc"))
    actor.reset()
    obs = eps.obs[:50]
    act_ckpt = np.stack([actor.act({"state": o}) for o in obs])
    act_rl = policy.action_normalizer.inverse(torch.from_numpy(eps.actions[:50]).clamp(-1, 1)).numpy()
    np.testing.assert_allclose(act_rl, act_ckpt, rtol=1e-5, atol=1e-5)
