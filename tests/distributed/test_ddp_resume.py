"""A rank killed mid-run: the launcher restarts the group (`max_restarts`), which continues from the training
state rank 0 wrote at the last validation point instead of step 0, and ends where an undisturbed run ends.

Tolerance: none. Two gloo ranks on the CPU sum the same gradients in the same order on every attempt, so the
resumed group's losses and weights equal the undisturbed group's bit for bit (tests/algos/test_bc_resume.py
shows the comparison fails when a piece of state is left out)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest


CONFIG = dict(steps=40, batch_size=64, eval_every=10, warmup_steps=5, seed=3, threads=1, lr=3e-3)


def _rank(data_dir: str, out: str, marker: str, kill_at: int) -> dict:
    """One rank; on the first attempt rank 1 is killed (SIGKILL) in its forward pass at step `kill_at`."""
    import protege.algos.bc as bc
    from protege.algos.bc import TrainConfig, train_bc
    from protege.data.formats import load_any
    from protege.distributed.launch import restart_count
    from protege.policies import MLPConfig

    original = bc.ddp.loss_function

    def killing(policy, ctx, device):
        fn, sync = original(policy, ctx, device)
        calls = {"n": 0}

        def loss(batch):
            calls["n"] += 1
            if kill_at and ctx.rank == 1 and calls["n"] == kill_at and not os.path.exists(marker):
                Path(marker).write_text(str(restart_count()))
                os.kill(os.getpid(), signal.SIGKILL)
            return fn(batch)
        return loss, sync

    bc.ddp.loss_function = killing
    restarted = restart_count()
    from protege.algos import train_state

    resumed_at = train_state.saved_step(out) if restarted else None  # where the restarted group continues
    result = train_bc(load_any(data_dir), "mlp", MLPConfig(hidden_dims=(32, 32), dropout=0.1), TrainConfig(**CONFIG),
                      out=out, resume=restarted > 0, save_state=True)
    return {"history": [(h["step"], h["train_loss"], h["val_loss"]) for h in result.history],
            "weights": {k: v.numpy() for k, v in result.policy.state_dict().items()},
            "restarts": restarted, "resumed_at": resumed_at, "best": (result.best_val_loss, result.best_step)}


@pytest.mark.slow  # two launches of two spawned ranks, one of them restarted
def test_a_killed_rank_restarts_from_the_last_validation_point(tmp_path, data_dir):
    from protege.algos import train_state
    from protege.distributed.launch import launch

    clean = launch(_rank, 2, str(data_dir), str(tmp_path / "clean"), str(tmp_path / "m0"), 0)[0]
    marker = tmp_path / "killed"
    faulted = launch(_rank, 2, str(data_dir), str(tmp_path / "faulted"), str(marker), 25, max_restarts=1)[0]
    assert marker.read_text() == "0" and faulted["restarts"] == 1  # killed on the first attempt, then restarted
    assert faulted["resumed_at"] == 20  # the last validation point before the kill at step 25, not step 0
    assert faulted["history"] == clean["history"] and faulted["best"] == clean["best"]
    for k, v in clean["weights"].items():
        np.testing.assert_array_equal(faulted["weights"][k], v, err_msg=k)
    assert train_state.saved_step(tmp_path / "faulted") == 40
