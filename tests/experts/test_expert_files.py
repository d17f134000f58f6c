"""`--expert PATH`: a policy file a user points at acts as the expert of record, dagger and eval (an MLP
policy in the hand_dapg layout, or a protege checkpoint folder); missing, wrong and misfit files are
refused in one line before anything is written."""

import json

import numpy as np
import pytest
import torch

from protege.cli import main
from protege.data.native import load_dataset
from protege.envs import get_task
from protege.errors import ProtegeError
from protege.experts.files import expert_factory, load_expert_file
from protege.experts.hand_dapg import HandDapgExpert

from test_hand_dapg import _write  # the toy MLP writer (this folder is on sys.path)


def _pendulum_mlp(tmp_path, **change):
    _write(tmp_path / "pend", np.random.default_rng(1), obs=3, act=1, **change)
    return tmp_path / "pend.json"


def test_record_with_an_mlp_file_records_that_policy(tmp_path):
    path = _pendulum_mlp(tmp_path)
    assert main(["record", "--task", "pendulum", "--episodes", "2", "--out", str(tmp_path / "d"),
                 "--expert", str(path)]) == 0
    ds = load_dataset(tmp_path / "d")
    ep = ds.episodes[0]
    want = np.clip(HandDapgExpert(path).mean(ep.observations["state"][:5]), -2.0, 2.0)  # pendulum's bounds
    np.testing.assert_allclose(ep.actions[:5], want, rtol=1e-6)
    assert ds.meta["provenance"]["expert_file"] == str(path.resolve())
    # resuming with the task's own expert instead is refused (another demonstrator)
    assert main(["record", "--task", "pendulum", "--episodes", "3", "--out", str(tmp_path / "d")]) == 2


def test_no_labels_keeps_only_the_noisy_executed_actions(tmp_path):
    path = _pendulum_mlp(tmp_path)
    for flag, out in (([], "with"), (["--no-labels"], "without")):
        assert main(["record", "--task", "pendulum", "--episodes", "1", "--noise", "0.3", "--expert", str(path),
                     "--out", str(tmp_path / out), *flag]) == 0
    labelled, plain = load_dataset(tmp_path / "with").episodes[0], load_dataset(tmp_path / "without").episodes[0]
    assert labelled.labels is not None and plain.labels is None
    np.testing.assert_array_equal(plain.actions, labelled.actions)  # the same noisy episode
    np.testing.assert_array_equal(plain.targets, labelled.actions)  # BC imitates what was executed
    assert not np.allclose(labelled.targets, labelled.actions)


def test_eval_expert_accepts_a_file_and_a_bare_flag(tmp_path, capsys):
    path = _pendulum_mlp(tmp_path)
    assert main(["eval", "--task", "pendulum", "--expert", str(path), "--episodes", "1",
                 "--json", str(tmp_path / "f.json")]) == 0
    assert json.loads((tmp_path / "f.json").read_text())["who"] == f"expert {path}"
    assert main(["eval", "--expert", "--task", "pendulum", "--episodes", "1", "--json", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["who"] == "expert of pendulum"


def test_a_checkpoint_folder_is_an_expert(tmp_path):
    from protege.checkpoint import save_checkpoint
    from protege.policies import make_policy

    task = get_task("pendulum")
    torch.manual_seed(0)
    save_checkpoint(make_policy("mlp", {"hidden_dims": (8,)}, task.spec, None), tmp_path / "ckpt")
    actor = load_expert_file(tmp_path / "ckpt", task)
    actor.reset()
    assert actor.act({"state": np.zeros(3, np.float32)}).shape == (1,)
    assert main(["dagger", "--task", "pendulum", "--expert", str(tmp_path / "mlp.json"), "--out",
                 str(tmp_path / "run")]) == 2  # missing: refused before the run folder is used


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p / "nothing.json",
     r"--expert .*nothing\.json: expected a checkpoint folder or a policy file .*found no such"),
    (lambda p: (p / "empty").mkdir() or p / "empty",
     r"expected a protege checkpoint folder .*found a folder without config\.json"),
    (lambda p: _pendulum_mlp(p, format="something-else"),
     r"pend\.json: field 'format': expected 'hand_dapg-gaussian-mlp/1'"),
    (lambda p: _write(p / "big", np.random.default_rng(0), obs=5, act=1) and p / "big.json",
     r"big\.json: expected an expert for pendulum \(3 observations -> 1 actions\), found 5 -> 1"),
])
def test_bad_files_are_one_line_errors(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(ProtegeError, match=message) as e:
        expert_factory("pendulum", path)
    assert "\n" not in str(e.value)
    assert main(["record", "--task", "pendulum", "--episodes", "1", "--out", str(tmp_path / "d"),
                 "--expert", str(path)]) == 2
    assert not (tmp_path / "d").exists()
