"""PPO behind the NPG interface: it moves the policy towards positive-advantage actions within its clip,
pulls towards demonstrations through the DAPG term, and runs in the RL loop."""

import torch

from protege.algos.rl import RLConfig, rl_from_scratch
from protege.algos.rl.types import DemoTerm, PolicyBatch
from protege.algos.rl.ppo import PPO, PPOConfig
from protege.envs import get_task
from protege.policies import make_policy
from protege.policies.gaussian import GaussianConfig
from protege.specs import ArraySpec, Spec


def _policy():
    torch.manual_seed(0)
    spec = Spec({"state": ArraySpec((3,))}, ArraySpec((1,), low=[-1], high=[1]))
    return make_policy("gaussian", GaussianConfig(hidden_dims=(16,), init_log_std=-0.5), spec, None)


def test_ppo_moves_the_mean_towards_positive_advantage_actions():
    policy = _policy()
    feats = torch.randn(512, 3)
    with torch.no_grad():
        mean, log_std = policy.mean_log_std(feats)
        actions = mean + torch.exp(log_std) * torch.randn_like(mean)
        old_logp = policy.log_prob(feats, actions)
    adv = (actions - mean)[:, 0] / torch.exp(log_std)  # actions above the mean were better
    ppo = PPO(PPOConfig(lr=1e-2, epochs=4, minibatch_size=128, target_kl=0), seed=0)
    metrics = ppo.update(policy, PolicyBatch(feats, actions, adv, old_logp), None)
    with torch.no_grad():
        new_mean, _ = policy.mean_log_std(feats)
    assert float((new_mean - mean).mean()) > 0.05
    assert metrics["grad_steps"] == 16


def test_ppo_demonstration_term_pulls_towards_the_demonstrations():
    policy = _policy()
    feats = torch.randn(256, 3)
    with torch.no_grad():
        mean, _ = policy.mean_log_std(feats)
    batch = PolicyBatch(feats, mean.clone(), torch.zeros(256), policy.log_prob(feats, mean).detach())
    demo_f = torch.randn(64, 3)
    demo_a = torch.full((64, 1), 0.8)
    before = float(policy.mean_log_std(demo_f)[0].mean())
    PPO(PPOConfig(lr=1e-2, epochs=5, minibatch_size=64, target_kl=0), seed=0).update(
        policy, batch, DemoTerm(demo_f, demo_a, weight=1.0))
    after = float(policy.mean_log_std(demo_f)[0].mean())
    assert abs(after - 0.8) < abs(before - 0.8) - 0.2


def test_ppo_runs_in_the_rl_loop_and_resumes_its_adam_state(tmp_path):
    torch.set_num_threads(1)
    cfg = dict(episodes_per_iter=2, num_envs=2, algo="ppo", seed=0, random_stats_episodes=1)
    task = get_task("pendulum")
    full = rl_from_scratch(task, RLConfig(env_steps=1000, **cfg), tmp_path / "full")
    rl_from_scratch(task, RLConfig(env_steps=600, **cfg), tmp_path / "part")
    resumed = rl_from_scratch(task, RLConfig(env_steps=1000, **cfg), tmp_path / "part")
    # 200 random-action steps for normalisation, then 400 per iteration: 600 -> 1 iteration, 1000 -> 2.
    assert resumed.resumed_from == 1 and resumed.iterations == full.iterations == 2
    torch.testing.assert_close(resumed.policy.log_std, full.policy.log_std)
