"""The command line end to end, and its one-line errors."""

import json
import subprocess

import numpy as np


def _run(cmd, *args):
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, timeout=600)


def test_record_train_eval(tmp_path, protege_cmd):
    r = _run(protege_cmd, "record", "--task", "pendulum", "--episodes", 4, "--out", tmp_path / "ds", "--noise", 0.1)
    assert r.returncode == 0, r.stderr
    assert "wrote 4 episodes" in r.stdout
    r = _run(protege_cmd, "train", "--data", tmp_path / "ds", "--out", tmp_path / "ck", "--steps", 200,
             "--mlp.hidden-dims", 64, 64)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ck" / "model.safetensors").exists()
    r = _run(protege_cmd, "eval", "--checkpoint", tmp_path / "ck", "--episodes", 3, "--json", tmp_path / "e.json")
    assert r.returncode == 0, r.stderr
    out = json.loads((tmp_path / "e.json").read_text())
    assert out["episodes"] == 3 and out["task"] == "pendulum" and min(out["seeds"]) >= 1_000_000


def _assert_one_line_error(r, *fragments):
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr
    for f in fragments:
        assert f in lines[0], lines[0]


def test_missing_data_path(tmp_path, protege_cmd):
    r = _run(protege_cmd, "train", "--data", tmp_path / "nope", "--out", tmp_path / "ck")
    _assert_one_line_error(r, "nope", "expected a dataset folder", "found no such file")


def test_nan_in_dataset(tmp_path, protege_cmd):
    acts = np.zeros((5, 1))
    acts[2, 0] = np.inf
    np.savez(tmp_path / "ep.npz", observations=np.zeros((5, 3)), actions=acts)
    r = _run(protege_cmd, "train", "--data", tmp_path, "--out", tmp_path / "ck")
    _assert_one_line_error(r, "ep.npz", "'actions'", "expected finite values", "found inf")


def test_debug_shows_traceback(tmp_path, protege_cmd):
    r = _run(protege_cmd, "train", "--data", tmp_path / "nope", "--out", tmp_path / "ck", "--debug")
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_checkpoint_that_does_not_fit_the_task(tmp_path, protege_cmd):
    np.savez(tmp_path / "ep.npz", observations=np.random.rand(20, 3), actions=np.random.rand(20, 1))
    assert _run(protege_cmd, "train", "--data", tmp_path, "--out", tmp_path / "ck", "--steps", 20).returncode == 0
    r = _run(protege_cmd, "eval", "--checkpoint", tmp_path / "ck", "--task", "metaworld/reach", "--episodes", 1)
    _assert_one_line_error(r, "does not fit task metaworld/reach", "float32[3]", "float32[39]")


def test_record_refuses_to_overwrite(tmp_path, protege_cmd):
    # the same settings resume (nothing left to record here); other settings are refused, nothing replaced
    assert _run(protege_cmd, "record", "--task", "pendulum", "--episodes", 1, "--out", tmp_path / "ds").returncode == 0
    r = _run(protege_cmd, "record", "--task", "pendulum", "--episodes", 1, "--out", tmp_path / "ds", "--seed", 1)
    _assert_one_line_error(r, "--overwrite")
    assert len(list((tmp_path / "ds" / "episodes").glob("*.npz"))) == 1


def test_killing_record_keeps_finished_episodes(tmp_path, protege_cmd):
    import signal
    import time

    from protege.data import load_dataset

    proc = subprocess.Popen([*protege_cmd, "record", "--task", "pendulum", "--episodes", "500", "--out",
                             str(tmp_path / "ds")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    episodes = tmp_path / "ds" / "episodes"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(episodes.glob("*.npz"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ds = load_dataset(tmp_path / "ds")
    assert 3 <= len(ds) < 500
    assert all(len(e) == 200 for e in ds.episodes)


def test_bad_flag_is_one_line(tmp_path, protege_cmd):
    r = _run(protege_cmd, "train", "--data", tmp_path, "--out", tmp_path / "ck", "--stepz", 3)
    _assert_one_line_error(r, "protege train: unrecognized options: --stepz", "(see protege train --help)")
    assert "│" not in r.stderr and "╭" not in r.stderr



def test_a_verb_that_only_reads_does_not_import_torch(tmp_path):
    """`protege view` imports its own module only (not every verb's), and sets no torch thread count, so it
    starts in well under a second instead of paying torch's import (~3.5 s here)."""
    import subprocess
    import sys

    code = ("import sys; from protege.cli import main; rc = main(['--threads', '1', 'view', sys.argv[1]]); "
            "print(rc, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "missing")], capture_output=True, text=True)
    assert out.stdout.split() == ["2", "False"], (out.stdout, out.stderr)
    assert "no such file" in out.stderr
