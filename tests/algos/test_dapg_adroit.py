"""DAPG on the Adroit hand: a short run on adroit/door improves the sampled return over its BC start.

Demonstrations: 10 episodes of the DAPG authors' door policy with executed-action noise 0.15 and no clean
labels (the benchmark's imperfect demonstrator); BC 500 steps; then 4 DAPG iterations of 20 episodes.
Measured (seed 0, one thread): sampled mean return 201 at the BC start (iteration 1 samples the BC
policy), then 166, 227, 241, 248; about 95 s on the shared 2-core machine."""

import pytest
import torch

from protege.algos.bc import TrainConfig
from protege.algos.rl import RLConfig, run_dapg
from protege.algos.rl.npg import NPGConfig
from protege.data.native import load_dataset
from protege.envs import get_task
from protege.recording import record_expert

pytest.importorskip("gymnasium_robotics")


@pytest.mark.slow  # ~16,000 hand steps
def test_a_short_dapg_run_on_door_improves_the_sampled_return_over_bc(tmp_path, monkeypatch):
    from protege import runtime
    from protege.envs.adroit import expert_dir

    door = expert_dir() / "door.json"
    if not door.is_file():
        pytest.skip(f"the DAPG authors' door policy is not at {door} (set PROTEGE_ADROIT_EXPERTS)")
    monkeypatch.setattr(runtime, "_chosen", 1)
    torch.set_num_threads(1)
    record_expert("adroit/door", 10, tmp_path / "demos", noise=0.15, keep_labels=False, expert=door)
    cfg = RLConfig(env_steps=16_000, episodes_per_iter=20, num_envs=10, seed=0, lambda0=0.01,
                   npg=NPGConfig(kl_step=0.05))
    result, _ = run_dapg(get_task("adroit/door"), load_dataset(tmp_path / "demos"), cfg, tmp_path / "run",
                         bc_config=TrainConfig(steps=500, seed=0))
    returns = [r["mean_return"] for r in result.curve]
    assert len(returns) >= 4
    # iteration 1's episodes are sampled from the BC policy itself, before any DAPG step
    assert returns[-1] > returns[0] + 20, returns
    assert max(r["success_rate"] for r in result.curve[1:]) >= result.curve[0]["success_rate"]
