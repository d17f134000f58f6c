"""BC ensembles: `protege train --ensemble K` trains K members with their own seeds, `protege eval` acts with
their mean action, and what takes one policy (export, deploy) refuses the folder in one line."""

import json
import subprocess

import numpy as np
import pytest

from protege.algos.ensemble import LearnerFactory
from protege.checkpoint import PolicyActor, ensemble_members, load_checkpoint, read_checkpoint_config
from protege.errors import ProtegeError
from protege.recording import record_expert


def _run(cmd, *args):
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory, protege_cmd):
    root = tmp_path_factory.mktemp("ensemble")
    record_expert("pendulum", 4, root / "ds", seed=0)
    r = _run(protege_cmd, "--threads", 1, "train", "--data", root / "ds", "--out", root / "ens", "--ensemble", 3,
             "--steps", 60, "--eval-every", 30, "--mlp.hidden-dims", 32)
    assert r.returncode == 0, r.stderr
    assert "ensemble of 3 mlp policies" in r.stdout
    return root


def test_members_differ_by_seed_and_act_as_their_mean(ensemble):
    members = ensemble_members(ensemble / "ens")
    assert [m.name for m in members] == ["member_0", "member_1", "member_2"]
    seeds = [json.loads((m / "config.json").read_text())["train"]["seed"] for m in members]
    assert seeds == [0, 1000, 2000]
    actors = [PolicyActor(load_checkpoint(m)) for m in members]
    mean = LearnerFactory(members)()
    for obs in np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32):
        each = np.stack([a.act({"state": obs}) for a in actors])
        assert np.ptp(each, axis=0).max() > 1e-4  # the members are different policies
        np.testing.assert_allclose(mean.act({"state": obs}), each.mean(0), atol=1e-6)


def test_eval_runs_the_ensemble_and_one_policy_verbs_refuse_it(ensemble, protege_cmd, tmp_path):
    r = _run(protege_cmd, "--threads", 1, "eval", "--checkpoint", ensemble / "ens", "--episodes", 2,
             "--json", tmp_path / "e.json")
    assert r.returncode == 0, r.stderr
    result = json.loads((tmp_path / "e.json").read_text())
    assert result["who"] == f"ensemble {ensemble / 'ens'} (3 members)" and result["episodes"] == 2
    with pytest.raises(ProtegeError, match="expected one checkpoint .* found an ensemble of 3 members"):
        read_checkpoint_config(ensemble / "ens")
    r = _run(protege_cmd, "export", "--checkpoint", ensemble / "ens", "--format", "onnx", "--out", tmp_path / "m.onnx")
    assert r.returncode == 2 and "found an ensemble of 3 members (pass one, e.g." in r.stderr, r.stderr
    r = _run(protege_cmd, "train", "--data", ensemble / "ds", "--out", tmp_path / "x", "--ensemble", 2, "--resume")
    assert r.returncode == 2 and "--ensemble: expected >= 1, and 1 with --nproc > 1 or --resume" in r.stderr, r.stderr
