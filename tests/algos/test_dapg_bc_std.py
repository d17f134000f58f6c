"""DAPG's BC stage with the std taken from the demonstrations (`bc_std="demos"`, as hand_dapg sets it)."""

import json

import numpy as np
import pytest
import torch

from protege.algos.bc import TrainConfig
from protege.algos.rl.dapg import bc_stage
from protege.checkpoint import load_checkpoint
from protege.data import load_dataset
from protege.errors import ProtegeError
from protege.policies.gaussian import GaussianConfig
from protege.recording import record_expert


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("demos") / "pendulum"
    record_expert("pendulum", 3, out, seed=0)
    return load_dataset(out)


def test_demos_std_sets_the_demonstrations_action_std_and_keeps_the_mean(tmp_path, demos):
    cfg, small = TrainConfig(steps=60, seed=0, eval_every=30), GaussianConfig(hidden_dims=(16,))
    fitted = load_checkpoint(bc_stage(demos, tmp_path / "a", small, cfg))
    wide_dir = bc_stage(demos, tmp_path / "b", small, cfg, bc_std="demos")
    wide = load_checkpoint(wide_dir)
    # The std is the demonstrations' own, in the policy's normalised action units (min-max to [-1, 1]) ...
    acts = np.concatenate([e.actions for e in demos.episodes]).astype(np.float64)
    lo, hi = acts.min(0), acts.max(0)  # the whole data set: the BC split keeps every episode of 3 for training
    expected = np.log(((acts - (hi + lo) / 2) / ((hi - lo) / 2)).std(0, ddof=1))
    np.testing.assert_allclose(wide.log_std.detach().numpy(), expected, rtol=1e-4)
    assert not torch.allclose(wide.log_std, fitted.log_std, atol=0.05)  # not the std likelihood fitted
    # ... and nothing else moves: the same mean network, so BC alone (executed with its mean) is unchanged.
    for (k, v), (_, w) in zip(fitted.state_dict().items(), wide.state_dict().items()):
        if k != "log_std":
            torch.testing.assert_close(v, w, msg=k)
    cfg_json = json.loads((wide_dir / "config.json").read_text())
    assert cfg_json["bc_std"]["source"] == "demos" and "train" in cfg_json and "dataset" in cfg_json
    assert (wide_dir / "done").read_text().endswith("std demos\n")


def test_a_finished_bc_stage_is_reused_only_with_the_same_std(tmp_path, demos):
    cfg, small = TrainConfig(steps=20, seed=0, eval_every=20), GaussianConfig(hidden_dims=(8,))
    run = bc_stage(demos, tmp_path / "run", small, cfg, bc_std="demos")
    before = (run / "model.safetensors").read_bytes()
    assert bc_stage(demos, tmp_path / "run", small, cfg, bc_std="demos") == run
    assert (run / "model.safetensors").read_bytes() == before  # resumed, not trained again
    with pytest.raises(ProtegeError, match=r"done.*bc_std.*'likelihood'.*found 'demos'"):
        bc_stage(demos, tmp_path / "run", small, cfg)
    with pytest.raises(ProtegeError, match=r"bc_std.*found 'wide'"):
        bc_stage(demos, tmp_path / "other", small, cfg, bc_std="wide")


def test_dapg_command_takes_bc_std(tmp_path, demos):
    from protege.cli import main

    rc = main(["dapg", "--task", "pendulum", "--demos", str(demos.path), "--out", str(tmp_path / "d"),
               "--env-steps", "800", "--episodes-per-iter", "4", "--num-envs", "4", "--bc-steps", "20",
               "--gaussian.hidden-dims", "8", "--bc-std", "demos"])
    assert rc == 0
    cfg_json = json.loads((tmp_path / "d" / "bc" / "config.json").read_text())
    assert cfg_json["bc_std"]["source"] == "demos"
