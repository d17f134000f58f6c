"""One line for every failure, in-process: unknown errors, bad flags, --threads, output paths, progress bars."""

import json

import h5py
import numpy as np
import pytest

from protege.cli import main
from protege.commands._common import check_writable_dir, check_writable_file
from protege.errors import ProtegeError


def _screen(text):
    """What a terminal shows for `text`: each line with carriage returns applied, blank lines dropped."""
    shown = []
    for line in text.split("\n"):
        buf: list[str] = []
        for seg in line.split("\r"):
            buf[:len(seg)] = seg
        if "".join(buf).strip():
            shown.append("".join(buf).rstrip())
    return shown


def _one_line(capsys, rc, code=2, *fragments):
    err = capsys.readouterr().err
    lines = _screen(err)
    assert rc == code, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def threads_restored():
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture
def npz_data(tmp_path):
    """Two seed-format episodes shaped like the pendulum task (state float32[3], action float32[1])."""
    d = tmp_path / "data"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        np.savez(d / f"ep{i}.npz", observations=rng.normal(size=(20, 3)).astype(np.float32),
                 actions=rng.uniform(-1, 1, size=(20, 1)).astype(np.float32))
    return d


def _blocked(tmp_path):
    """A path below a regular file: unwritable even for root, which ignores permissions."""
    (tmp_path / "file.txt").write_text("x")
    return tmp_path / "file.txt" / "sub"


# --- anything unexpected ------------------------------------------------------------------------------

def test_unexpected_exception_is_one_line_and_debug_shows_it(monkeypatch, capsys):
    def boom(args):
        raise RuntimeError("the cable fell out\nsecond line")

    monkeypatch.setattr("protege.commands.tasks.run", boom)
    line = _one_line(capsys, main(["tasks"]), 1)
    assert line == ("error: internal: RuntimeError: the cable fell out ... "
                    "(run with --debug for the traceback)")
    with pytest.raises(RuntimeError, match="the cable fell out"):
        main(["tasks", "--debug"])


def test_keyboard_interrupt_keeps_its_message(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr("protege.commands.tasks.run", interrupted)
    assert main(["tasks"]) == 130
    assert capsys.readouterr().err.startswith("interrupted: everything saved")


# --- tyro's errors ------------------------------------------------------------------------------------

def test_bad_flag_is_one_line_naming_the_verb(capsys, tmp_path):
    line = _one_line(capsys, main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "ck"), "--stepz", "3"]),
                     2, "protege train", "unrecognized options: --stepz", "perhaps you meant --steps",
                     "(see protege train --help)")
    assert "│" not in line
    _one_line(capsys, main(["train", "--foo"]), 2, "missing required --data, --out", "--foo")
    _one_line(capsys, main(["eval", "--episodes", "many"]), 2, "--episodes", "'many'", "protege eval --help")
    _one_line(capsys, main(["bogus"]), 2, "unrecognized options: bogus", "available subcommands", "train")
    _one_line(capsys, main([]), 2, "missing subcommand")


def test_help_is_still_the_full_help(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--help"])
    assert e.value.code in (0, None)
    out = capsys.readouterr().out
    assert "--steps" in out and "--overwrite" in out and len(out.splitlines()) > 20
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "--threads" in capsys.readouterr().out


def test_debug_keeps_tyros_own_message(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--foo", "--debug"])
    assert e.value.code == 2
    assert len(capsys.readouterr().err.splitlines()) > 1


# --- --threads ----------------------------------------------------------------------------------------

def test_threads_flag_anywhere_sets_torch_threads(capsys, threads_restored):
    import torch

    from protege.runtime import default_threads

    torch.set_num_threads(7)
    assert main(["tasks", "--threads", "3"]) == 0
    assert torch.get_num_threads() == 3
    assert main(["--threads=2", "tasks"]) == 0
    assert torch.get_num_threads() == 2
    torch.set_num_threads(7)  # as if inherited from OMP_NUM_THREADS: without the flag the library decides
    assert main(["tasks"]) == 0
    assert torch.get_num_threads() == default_threads()


def test_bad_threads_value_is_one_line(capsys, threads_restored):
    _one_line(capsys, main(["tasks", "--threads", "many"]), 2, "--threads", "found 'many'")
    _one_line(capsys, main(["tasks", "--threads"]), 2, "--threads", "found nothing")
    _one_line(capsys, main(["tasks", "--threads", "-2"]), 2, "threads", "found -2")


def test_threads_reaches_training_and_is_recorded(tmp_path, npz_data, capsys, threads_restored):
    assert main(["train", "--data", str(npz_data), "--out", str(tmp_path / "ck"), "--steps", "5",
                 "--mlp.hidden-dims", "8", "8", "--threads", "1"]) == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "ck" / "config.json").read_text())["train"]["threads"] == 1


# --- output paths -------------------------------------------------------------------------------------

def test_writable_checks_leave_nothing_behind(tmp_path):
    check_writable_dir(tmp_path / "a" / "b", "--out")
    assert not (tmp_path / "a").exists()
    check_writable_file(tmp_path / "c" / "e.json", "--json")
    assert not (tmp_path / "c").exists()
    with pytest.raises(ProtegeError, match=r"^--out .*file.txt/sub: expected a writable folder, found .*file.txt is a file$"):
        check_writable_dir(_blocked(tmp_path), "--out")
    with pytest.raises(ProtegeError, match="expected a folder, found a file"):
        check_writable_dir(tmp_path / "file.txt", "--out")
    with pytest.raises(ProtegeError, match="expected a file, found a folder"):
        check_writable_file(tmp_path, "--json")


def test_train_refuses_unwritable_out_before_training(tmp_path, npz_data, monkeypatch, capsys):
    def never(*a, **k):
        raise AssertionError("training started")

    monkeypatch.setattr("protege.commands.train.train_bc", never)
    _one_line(capsys, main(["train", "--data", str(npz_data), "--out", str(_blocked(tmp_path))]), 2,
              "--out", "expected a writable folder", "file.txt is a file")
    _one_line(capsys, main(["train", "--data", str(npz_data), "--out", str(tmp_path / "file.txt")]), 2,
              "--out", "expected a folder, found a file")


def test_eval_refuses_unwritable_json_before_evaluating(tmp_path, monkeypatch, capsys):
    def never(*a, **k):
        raise AssertionError("evaluation started")

    monkeypatch.setattr("protege.commands.eval.evaluate", never)
    rc = main(["eval", "--expert", "--task", "pendulum", "--episodes", "1", "--json", str(_blocked(tmp_path) / "e.json")])
    assert capsys.readouterr().out == ""  # nothing printed before the refusal
    assert rc == 2
    rc = main(["eval", "--expert", "--task", "pendulum", "--json", str(tmp_path)])
    _one_line(capsys, rc, 2, "--json", "expected a file, found a folder")


def test_convert_refuses_unwritable_destination_before_reading(tmp_path, monkeypatch, capsys):
    def never(*a, **k):
        raise AssertionError("conversion started")

    monkeypatch.setattr("protege.commands.convert.convert", never)
    _one_line(capsys, main(["convert", str(tmp_path), str(_blocked(tmp_path) / "ds.hdf5")]), 2,
              "DST", "file.txt is a file")


def test_train_never_replaces_a_dataset_and_asks_before_a_checkpoint(tmp_path, npz_data, capsys):
    ck = tmp_path / "ck"
    args = ["train", "--data", str(npz_data), "--steps", "5", "--mlp.hidden-dims", "8", "8"]
    assert main([*args, "--out", str(ck)]) == 0
    weights = (ck / "model.safetensors").read_bytes()
    capsys.readouterr()
    _one_line(capsys, main([*args, "--out", str(ck)]), 2, "existing checkpoint", "--overwrite")
    assert (ck / "model.safetensors").read_bytes() == weights
    assert main([*args, "--out", str(ck), "--overwrite", "--seed", "1"]) == 0
    assert (ck / "model.safetensors").read_bytes() != weights
    capsys.readouterr()
    before = sorted(p.name for p in npz_data.iterdir())
    _one_line(capsys, main([*args, "--out", str(npz_data), "--overwrite"]), 2, "protege dataset", "never replaced")
    assert sorted(p.name for p in npz_data.iterdir()) == before
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    _one_line(capsys, main([*args, "--out", str(tmp_path / "other")]), 2, "notes.txt")


# --- NaN weights --------------------------------------------------------------------------------------

def test_eval_refuses_a_checkpoint_with_nan_weights(tmp_path, npz_data, capsys):
    import torch
    from safetensors.torch import load_file, save_file

    ck = tmp_path / "ck"
    assert main(["train", "--data", str(npz_data), "--out", str(ck), "--steps", "5", "--mlp.hidden-dims", "8", "8"]) == 0
    state = load_file(str(ck / "model.safetensors"))
    name = next(k for k in sorted(state) if k.endswith("weight"))
    state[name][0] = float("nan")
    save_file(state, str(ck / "model.safetensors"))
    capsys.readouterr()
    _one_line(capsys, main(["eval", "--checkpoint", str(ck), "--task", "pendulum", "--episodes", "2"]), 2,
              f"checkpoint {ck}", f"tensor '{name}'", "expected finite weights")
    assert torch.isnan(load_file(str(ck / "model.safetensors"))[name]).any()


# --- progress bars on read errors ---------------------------------------------------------------------

def _bad_robomimic(path):
    """Three demos; the last one's observations are a row short, so reading fails after two demos."""
    with h5py.File(path, "w") as f:
        for i in range(3):
            f.create_dataset(f"data/demo_{i}/actions", data=np.zeros((5, 2)))
            f.create_dataset(f"data/demo_{i}/obs/state", data=np.zeros((5 if i < 2 else 4, 3)))
    return path


def test_read_error_in_convert_leaves_only_the_error_line(tmp_path, capsys):
    src = _bad_robomimic(tmp_path / "a.hdf5")
    _one_line(capsys, main(["convert", str(src), str(tmp_path / "out")]), 2, "data/demo_2/obs/state")
    import gc

    gc.collect()
    assert _screen(capsys.readouterr().err) == []  # no bar drawn later either


def test_a_failed_read_discards_its_bar(tmp_path, capsys):
    import gc

    from protege.data.formats import load_any
    from protege.progress import TqdmProgress

    src = _bad_robomimic(tmp_path / "a.hdf5")
    try:
        load_any(src, progress=TqdmProgress())
    except ProtegeError:
        pass
    gc.collect()
    assert _screen(capsys.readouterr().err) == []


@pytest.mark.parametrize("verb", [["rl", "--task", "pendulum"], ["dapg", "--task", "pendulum", "--demos", "nope"],
                                  ["dagger", "--task", "pendulum"], ["record", "--task", "pendulum", "--episodes", "1"]])
def test_run_folders_naming_a_file_are_one_line(verb, tmp_path, capsys):
    blocked = _blocked(tmp_path)  # also creates file.txt
    _one_line(capsys, main([*verb, "--out", str(tmp_path / "file.txt")]), 2, "--out", "expected a folder, found a file")
    _one_line(capsys, main([*verb, "--out", str(blocked)]), 2, "--out", "file.txt is a file")
