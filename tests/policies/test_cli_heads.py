"""The new heads from the command line: train with head options, evaluate, and one-line config errors."""

import json
import subprocess


def _run(cmd, *args):
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, timeout=600)


def test_train_and_eval_a_chunking_head(tmp_path, protege_cmd):
    r = _run(protege_cmd, "record", "--task", "bimodal", "--episodes", 6, "--out", tmp_path / "ds")
    assert r.returncode == 0, r.stderr
    r = _run(protege_cmd, "train", "--data", tmp_path / "ds", "--out", tmp_path / "ck", "--policy", "diffusion",
             "--steps", 30, "--diffusion.inference-steps", 2, "--diffusion.execution", "ensemble",
             "--diffusion.down-dims", 16, 32)
    assert r.returncode == 0, r.stderr
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert cfg["policy"] == "diffusion" and cfg["policy_config"]["inference_steps"] == 2
    assert cfg["policy_config"]["execution"] == "ensemble"
    r = _run(protege_cmd, "eval", "--checkpoint", tmp_path / "ck", "--episodes", 2, "--json", tmp_path / "e.json")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "e.json").read_text())["episodes"] == 2


def test_bad_head_option_is_one_line(tmp_path, protege_cmd):
    r = _run(protege_cmd, "train", "--data", tmp_path, "--out", tmp_path / "ck", "--policy", "gmm",
             "--gmm.horizon", 2, "--gmm.n-action-steps", 3)
    # tyro reports a config's ValueError in its own box (no traceback); the message is ours
    assert r.returncode != 0 and "Traceback" not in r.stderr
    for fragment in ("gmm config: field 'n_action_steps'", "expected in [1, horizon=2]", "found 3"):
        assert fragment in r.stderr, r.stderr
