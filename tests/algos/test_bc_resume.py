"""An interrupted training run resumed from its training state (`train_bc(resume=True)`, `protege train
--resume`) takes the same steps as a run that was never interrupted.

Tolerance: none. One process on the CPU with the same thread count repeats its float operations in the same
order, so a resume that restores everything (weights, EMA, optimiser moments, scheduler, step, random state,
the batches still to come) gives the uninterrupted run's losses and weights bit for bit; any tolerance would
hide a forgotten piece of state. The controls below show the comparison fails when one piece is left out.
"""

from __future__ import annotations

import json

import pytest
import torch

import protege.algos.bc as bc
from protege.algos import train_state
from protege.algos.bc import TrainConfig, train_bc
from protege.data import DatasetWriter
from protege.data.formats import load_any
from protege.errors import ProtegeError
from protege.policies import MLPConfig
from protege.policies.diffusion import DiffusionConfig
from protege.specs import ArraySpec, Spec

SPEC = Spec({"state": ArraySpec((3,))}, ArraySpec((2,)))
CONFIG = dict(steps=40, batch_size=32, eval_every=10, warmup_steps=5, seed=3, threads=1, lr=3e-3)
HEADS = {"mlp": MLPConfig(hidden_dims=(32, 32), dropout=0.1),  # dropout: the random state matters here too
         "diffusion": DiffusionConfig(horizon=4, n_obs=1, n_action_steps=2, down_dims=(16, 32), train_steps=20,
                                      inference_steps=2)}


class Interrupted(Exception):
    pass


@pytest.fixture
def data_dir(tmp_path, make_episode):
    with DatasetWriter(tmp_path / "data", SPEC) as w:
        for i in range(8):
            w.add(make_episode(T=30, seed=i))
    return tmp_path / "data"


def _train(data_dir, out, head, **kw):
    return train_bc(load_any(data_dir), head, HEADS[head], TrainConfig(**CONFIG), out=out, **kw)


def _interrupt_at(monkeypatch, step):
    """The next run raises in its forward pass at `step` (1-based), as a kill would stop it there."""
    original = bc.ddp.loss_function

    def failing(policy, ctx, device):
        fn, sync = original(policy, ctx, device)
        calls = {"n": 0}

        def loss(batch):
            calls["n"] += 1
            if calls["n"] == step:
                raise Interrupted
            return fn(batch)
        return loss, sync

    monkeypatch.setattr(bc.ddp, "loss_function", failing)
    return lambda: monkeypatch.setattr(bc.ddp, "loss_function", original)


def _same(a, b):
    """Equal losses at every validation point and equal final weights (EMA copies included), bit for bit."""
    keys = ("step", "train_loss", "val_loss", "lr")
    assert [{k: h[k] for k in keys} for h in a.history] == [{k: h[k] for k in keys} for h in b.history]
    assert (a.best_val_loss, a.best_step) == (b.best_val_loss, b.best_step)
    sa, sb = a.policy.state_dict(), b.policy.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


@pytest.mark.parametrize("head", ["mlp", "diffusion"])
def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, data_dir, monkeypatch, head):
    whole = _train(data_dir, tmp_path / "whole", head)
    restore = _interrupt_at(monkeypatch, 27)  # 7 steps after the state of step 20 was written
    with pytest.raises(Interrupted):
        _train(data_dir, tmp_path / "cut", head, save_state=True)
    restore()
    assert train_state.load(tmp_path / "cut")["step"] == 20
    resumed = _train(data_dir, tmp_path / "cut", head, resume=True)
    _same(resumed, whole)
    cfg = json.loads((tmp_path / "cut" / "config.json").read_text())
    assert cfg["best_step"] == whole.best_step and cfg["best_val_loss"] == whole.best_val_loss
    again = _train(data_dir, tmp_path / "cut", head, resume=True)  # a finished run: nothing left to train
    _same(again, whole)


def test_resume_without_the_random_state_is_not_the_same_run(tmp_path, data_dir, monkeypatch):
    """Control: the diffusion head draws noise every step, so restoring everything but the random state
    leaves the comparison above."""
    whole = _train(data_dir, tmp_path / "whole", "diffusion")
    restore = _interrupt_at(monkeypatch, 27)
    with pytest.raises(Interrupted):
        _train(data_dir, tmp_path / "cut", "diffusion", save_state=True)
    restore()
    monkeypatch.setattr(train_state, "set_rng_state", lambda state, device: None)
    with pytest.raises(AssertionError):
        _same(_train(data_dir, tmp_path / "cut", "diffusion", resume=True), whole)


def test_resume_without_the_optimiser_state_is_not_the_same_run(tmp_path, data_dir, monkeypatch):
    """Control: fresh Adam moments after step 20 change every later step of the mlp head."""
    whole = _train(data_dir, tmp_path / "whole", "mlp")
    restore = _interrupt_at(monkeypatch, 27)
    with pytest.raises(Interrupted):
        _train(data_dir, tmp_path / "cut", "mlp", save_state=True)
    restore()
    monkeypatch.setattr(torch.optim.AdamW, "load_state_dict", lambda self, state: None)
    with pytest.raises(AssertionError):
        _same(_train(data_dir, tmp_path / "cut", "mlp", resume=True), whole)


def test_resume_with_other_settings_is_refused_in_one_line(tmp_path, data_dir):
    _train(data_dir, tmp_path / "run", "mlp", save_state=True)
    with pytest.raises(ProtegeError, match=r"train_state/state\.json: field 'steps': expected 50 \(this run's\), "
                                           r"found 40 \(the interrupted run's\)"):
        train_bc(load_any(data_dir), "mlp", HEADS["mlp"], TrainConfig(**{**CONFIG, "steps": 50}),
                 out=tmp_path / "run", resume=True)


def test_a_fresh_run_never_resumes_an_old_state(tmp_path, data_dir):
    _train(data_dir, tmp_path / "run", "mlp", save_state=True)
    assert train_state.load(tmp_path / "run")["step"] == 40
    fresh = _train(data_dir, tmp_path / "run", "mlp", resume=True)  # resumes: nothing left
    assert fresh.samples_per_second == 0
    again = _train(data_dir, tmp_path / "run", "mlp", save_state=True)  # not resume: from step 0, old state dropped
    assert again.samples_per_second > 0


def test_resume_without_a_state_starts_at_step_0(tmp_path, data_dir):
    a = _train(data_dir, tmp_path / "a", "mlp", resume=True)
    b = _train(data_dir, tmp_path / "b", "mlp")
    _same(a, b)
    assert train_state.load(tmp_path / "a")["step"] == 40 and train_state.load(tmp_path / "b") is None


def test_a_damaged_state_is_refused_in_one_line(tmp_path, data_dir):
    _train(data_dir, tmp_path / "run", "mlp", save_state=True)
    (tmp_path / "run" / "train_state" / "state.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ProtegeError, match=r"train_state/state\.json: expected a training state written by "
                                           r"protege train, found "):
        _train(data_dir, tmp_path / "run", "mlp", resume=True)


def test_the_cli_resumes_a_run_stopped_by_ctrl_c(tmp_path, data_dir, monkeypatch, capsys):
    """`protege train --resume`: a run stopped by Ctrl-C at step 27 and started again ends with the checkpoint
    an uninterrupted run writes, byte for byte."""
    from protege.cli import main

    def cli(out, *extra):
        return main(["train", "--data", str(data_dir), "--out", str(out), "--steps", "40", "--batch-size", "32",
                     "--eval-every", "10", "--warmup-steps", "5", "--seed", "3", "--lr", "3e-3", "--threads", "1",
                     "--mlp.hidden-dims", "32", "32", *extra])

    assert cli(tmp_path / "whole") == 0
    original = bc.ddp.loss_function

    def ctrl_c_at_27(policy, ctx, device):
        fn, sync = original(policy, ctx, device)
        calls = {"n": 0}

        def loss(batch):
            calls["n"] += 1
            if calls["n"] == 27:
                raise KeyboardInterrupt
            return fn(batch)
        return loss, sync

    monkeypatch.setattr(bc.ddp, "loss_function", ctrl_c_at_27)
    assert cli(tmp_path / "cut", "--resume") == 130
    monkeypatch.setattr(bc.ddp, "loss_function", original)
    assert cli(tmp_path / "cut") == 2  # the checkpoint is there: neither replaced nor continued unasked
    assert "pass --overwrite to replace it, or --resume to continue its run" in capsys.readouterr().err
    assert cli(tmp_path / "cut", "--resume", "--overwrite") == 2
    assert capsys.readouterr().err.strip() == ("error: --resume and --overwrite: expected one of them (--resume "
                                               "continues the run in --out, --overwrite replaces it), found both")
    assert cli(tmp_path / "cut", "--resume") == 0
    assert "resuming at step 20 from" in capsys.readouterr().out
    assert (tmp_path / "cut" / "model.safetensors").read_bytes() == (tmp_path / "whole" / "model.safetensors").read_bytes()
