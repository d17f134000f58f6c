"""Training keeps its loss history: one record per validation point, in TrainResult and in history.json
beside the checkpoint, rewritten at each point so an interrupted run keeps what it had."""

import json

import numpy as np
import pytest

from protege.algos.bc import HISTORY_FILE, TrainConfig, train_bc
from protege.data.episode import Episode
from protege.data.native import Dataset
from protege.specs import ArraySpec, Spec


def _dataset(tasks=("",), n=8, T=30):
    rng = np.random.default_rng(0)
    eps = []
    for i in range(n):
        for j, task in enumerate(tasks):
            obs = rng.normal(size=(T, 2)).astype(np.float32)
            info = {"seed": i, **({"task": task} if task else {})}
            eps.append(Episode(observations={"state": obs}, actions=(1 - 2 * j) * obs[:, :1], info=info))
    return Dataset(eps, Spec(observation={"state": ArraySpec((2,))}, action=ArraySpec((1,)), fps=10.0))


def test_history_is_written_beside_the_checkpoint(tmp_path):
    res = train_bc(_dataset(), "mlp", {"hidden_dims": (16,)},
                   TrainConfig(steps=60, eval_every=10, batch_size=32, threads=1), out=tmp_path / "ck")
    on_disk = json.loads((tmp_path / "ck" / HISTORY_FILE).read_text())
    assert on_disk == res.history
    assert len(on_disk) == 60 // 10
    assert [r["step"] for r in on_disk] == [10, 20, 30, 40, 50, 60]
    for r in on_disk:
        assert {"step", "train_loss", "val_loss", "lr", "samples_per_s", "data_wait"} <= set(r)
        assert r["samples_per_s"] > 0
    assert on_disk[0]["lr"] > on_disk[-1]["lr"] == 0  # the cosine schedule ends at zero
    assert min(r["val_loss"] for r in on_disk) == res.best_val_loss
    assert next(r for r in on_disk if r["val_loss"] == res.best_val_loss)["step"] == res.best_step
    cfg = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert cfg["best_val_loss"] == res.best_val_loss
    assert on_disk[-1]["train_loss"] < on_disk[0]["train_loss"]  # it learns a linear map


def test_train_loss_is_the_mean_since_the_last_point(tmp_path):
    """With eval_every=1 each record is one step's loss; with eval_every=5 it is the mean of those five."""
    every = train_bc(_dataset(), "mlp", {"hidden_dims": (16,)}, TrainConfig(steps=10, eval_every=1, batch_size=32))
    five = train_bc(_dataset(), "mlp", {"hidden_dims": (16,)}, TrainConfig(steps=10, eval_every=5, batch_size=32))
    per_step = [r["train_loss"] for r in every.history]
    assert [r["train_loss"] for r in five.history] == pytest.approx([np.mean(per_step[:5]), np.mean(per_step[5:])],
                                                                  rel=1e-6)


def test_multi_task_history_has_a_validation_loss_per_task(tmp_path):
    res = train_bc(_dataset(("a", "b")), "mlp", {"hidden_dims": (16,)},
                   TrainConfig(steps=20, eval_every=10, batch_size=32, val_fraction=0.5, threads=1),
                   out=tmp_path / "ck")
    on_disk = json.loads((tmp_path / "ck" / HISTORY_FILE).read_text())
    assert len(on_disk) == 2 and on_disk == res.history
    for r in on_disk:
        lo, hi = sorted((r["val_loss/a"], r["val_loss/b"]))
        assert lo <= r["val_loss"] <= hi


def test_an_interrupted_run_keeps_its_history_and_a_resumed_one_continues_it(tmp_path):
    class StopAt:  # a progress bar that interrupts training after step 100 (a Ctrl-C)
        def __call__(self, desc, total, unit="it"):
            return self

        def update(self, n=1, **metrics):
            self.done = getattr(self, "done", 0) + n
            if self.done >= 100:
                raise KeyboardInterrupt

        def close(self):
            pass

    config = TrainConfig(steps=200, eval_every=20, batch_size=32, threads=1)
    with pytest.raises(KeyboardInterrupt):
        train_bc(_dataset(), "mlp", {"hidden_dims": (16,)}, config, out=tmp_path / "ck", progress=StopAt(),
                 save_state=True)
    kept = json.loads((tmp_path / "ck" / HISTORY_FILE).read_text())
    assert [r["step"] for r in kept] == [20, 40, 60, 80, 100]
    assert min(r["val_loss"] for r in kept) == json.loads((tmp_path / "ck" / "config.json").read_text())["best_val_loss"]
    res = train_bc(_dataset(), "mlp", {"hidden_dims": (16,)}, config, out=tmp_path / "ck", resume=True)
    whole = json.loads((tmp_path / "ck" / HISTORY_FILE).read_text())
    assert whole == res.history and [r["step"] for r in whole] == list(range(20, 201, 20))
    assert whole[:5] == kept
