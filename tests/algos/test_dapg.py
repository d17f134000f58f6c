"""DAPG: the demonstration weight schedule, the augmented gradient, resume, and the commands."""

import json
import numpy as np
import pytest
import torch

from protege.algos.rl import RLConfig, rl_from_scratch, run_dapg, train_rl
from protege.algos.rl.loop import demo_weight
from protege.algos.rl.npg import policy_gradient
from protege.algos.rl.types import DemoTerm, PolicyBatch
from protege.algos.bc import TrainConfig
from protege.checkpoint import load_checkpoint
from protege.data import load_dataset
from protege.envs import get_task
from protege.policies import make_policy
from protege.policies.gaussian import GaussianConfig
from protege.recording import record_expert
from protege.specs import ArraySpec, Spec


def test_demo_weight_follows_lambda0_lambda1_power_k():
    for k in range(6):
        assert demo_weight(0.1, 0.95, k, 3.0) == pytest.approx(0.1 * 0.95**k * 3.0)
    assert demo_weight(0.1, 0.95, 10, 3.0) < demo_weight(0.1, 0.95, 9, 3.0)


def test_augmented_gradient_adds_the_weighted_demonstration_term():
    torch.manual_seed(0)
    spec = Spec({"state": ArraySpec((3,))}, ArraySpec((2,), low=[-1, -1], high=[1, 1]))
    policy = make_policy("gaussian", GaussianConfig(hidden_dims=(8,)), spec, None)
    feats, acts = torch.randn(40, 3), torch.randn(40, 2)
    batch = PolicyBatch(feats, acts, torch.zeros(40), torch.zeros(40))  # zero advantages: demos alone
    demo_f, demo_a = torch.randn(10, 3), torch.randn(10, 2)
    g = policy_gradient(policy, batch, DemoTerm(demo_f, demo_a, weight=0.5))
    # It is (w / (N + M)) times the gradient of the demonstrations' log-likelihood, i.e. BC's direction.
    policy.zero_grad()
    (policy.log_prob(demo_f, demo_a).sum() * 0.5 / 50).backward()
    expected = torch.cat([p.grad.reshape(-1) for p in policy.parameters()])
    torch.testing.assert_close(g, expected)
    assert torch.count_nonzero(policy_gradient(policy, batch, None)) == 0


def test_rl_run_resumes_from_its_last_iteration_and_matches_an_uninterrupted_run(tmp_path):
    torch.set_num_threads(1)
    task = get_task("pendulum")
    cfg = dict(episodes_per_iter=4, num_envs=4, seed=1, random_stats_episodes=1)
    full = rl_from_scratch(task, RLConfig(env_steps=3200, **cfg), tmp_path / "full")
    part = rl_from_scratch(task, RLConfig(env_steps=1600, **cfg), tmp_path / "part")
    assert part.iterations == 2 and full.iterations == 4
    resumed = rl_from_scratch(task, RLConfig(env_steps=3200, **cfg), tmp_path / "part")
    assert resumed.resumed_from == 2 and resumed.iterations == 4
    assert [r["env_steps"] for r in resumed.curve] == [r["env_steps"] for r in full.curve]
    np.testing.assert_allclose([r["mean_return"] for r in resumed.curve], [r["mean_return"] for r in full.curve],
                               rtol=1e-4)
    a, b = load_checkpoint(tmp_path / "full" / "policy"), load_checkpoint(tmp_path / "part" / "policy")
    for (k, v), (_, w) in zip(a.state_dict().items(), b.state_dict().items()):
        torch.testing.assert_close(v, w, rtol=1e-4, atol=1e-5, msg=k)
    assert (tmp_path / "part" / "curve.png").exists()


def test_dapg_starts_from_bc_and_steps_within_the_trust_region(tmp_path):
    torch.set_num_threads(1)
    record_expert("pendulum", 4, tmp_path / "demos", seed=0)
    demos = load_dataset(tmp_path / "demos")
    task = get_task("pendulum")
    cfg = RLConfig(env_steps=1600, episodes_per_iter=4, num_envs=4, seed=0)
    result, bc_dir = run_dapg(task, demos, cfg, tmp_path / "run", bc_config=TrainConfig(steps=200, seed=0))
    bc = load_checkpoint(bc_dir)
    first = load_checkpoint(tmp_path / "run" / "iterations" / "000001" / "policy")
    weights = [r["demo_weight"] for r in result.curve]
    assert len(weights) == 2 and all(w > 0 for w in weights)
    # Each NPG step moves the policy by the configured KL (measured on the iteration's own samples) ...
    assert all(0.2 * cfg.npg.kl_step < r["kl"] <= 1.5 * cfg.npg.kl_step for r in result.curve), [r["kl"] for r in result.curve]
    # ... starting from exactly the BC policy: one step away from it, not from a fresh network.
    x = torch.from_numpy(np.stack([e.observations["state"][0] for e in demos.episodes]))
    with torch.no_grad():
        moved = (first.mean_net(first.features(x)) - bc.mean_net(bc.features(x))).abs().mean()
    assert 0 < float(moved) < 0.5
    cfg_json = json.loads((tmp_path / "run" / "policy" / "config.json").read_text())
    assert cfg_json["policy"] == "gaussian" and cfg_json["dataset"]["task"] == "pendulum"
    assert cfg_json["dataset"]["episode_seeds"] == demos.meta["provenance"]["episode_seeds"]


def test_rl_and_dapg_commands(tmp_path, capsys):
    from protege.cli import main

    rc = main(["rl", "--task", "pendulum", "--out", str(tmp_path / "rl"), "--env-steps", "800",
               "--episodes-per-iter", "2", "--num-envs", "2", "--random-stats-episodes", "1"])
    assert rc == 0
    assert (tmp_path / "rl" / "curve.csv").read_text().count("\n") == 1 + 2  # header + 2 iterations
    assert (tmp_path / "rl" / "iterations" / "000002" / "rl_state.json").exists()
    assert main(["eval", "--checkpoint", str(tmp_path / "rl" / "policy"), "--episodes", "2"]) == 0
    assert "success" in capsys.readouterr().out
    rc = main(["dapg", "--task", "pendulum", "--demos", str(tmp_path / "nope"), "--out", str(tmp_path / "d")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "nope" in err[0]
