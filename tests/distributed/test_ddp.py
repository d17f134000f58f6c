"""Data-parallel training (2 gloo ranks on the CPU) against one process at the same effective batch.

The contract (see protege/distributed/ddp.py): the effective batch is TrainConfig.batch_size; each step's
indices come from one generator, as one process draws them, and the ranks split them; DDP averages the
ranks' gradients. For a head whose loss is a per-sample mean without noise (mlp), the two runs then take
the same steps up to float summation order: the loss curve and the final weights agree to 1e-4 relative
(measured: ~1e-6 after 30 steps; a step with another batch would differ by ~1e-1). Rank 0 alone writes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from protege.algos.bc import TrainConfig, train_bc
from protege.data.formats import load_any
from protege.distributed.ddp import RankContext, shard
from protege.distributed.launch import launch
from protege.errors import ProtegeError
from protege.policies import MLPConfig

CONFIG = dict(steps=30, batch_size=64, eval_every=10, warmup_steps=5, seed=3, threads=1, lr=3e-3)


def _rank_train(data_dir: str, out: str, log: str, grad_accum: int, fail_at: int) -> dict:
    """One rank: train, logging every checkpoint and history write (rank) to `log`."""
    import torch.distributed as dist

    import protege.algos.bc as bc

    save = bc.save_checkpoint

    def logged_save(policy, path, extra=None):
        with open(log, "a") as f:
            f.write(f"{dist.get_rank()}\n")
        return save(policy, path, extra)

    bc.save_checkpoint = logged_save
    write = bc.write_json

    def logged_write(path, obj):
        with open(log, "a") as f:
            f.write(f"{dist.get_rank()}\n")
        return write(path, obj)

    bc.write_json = logged_write
    if fail_at:  # rank 1 raises in its forward pass at step `fail_at`
        calls = {"n": 0}
        original = bc.ddp.loss_function

        def failing(policy, ctx, device):
            fn, sync = original(policy, ctx, device)

            def loss(batch):
                calls["n"] += 1
                if ctx.rank == 1 and calls["n"] == fail_at:
                    raise ValueError("injected failure")
                return fn(batch)
            return loss, sync

        bc.ddp.loss_function = failing
    result = train_bc(load_any(data_dir), "mlp", MLPConfig(hidden_dims=(32, 32)),
                      TrainConfig(**CONFIG, grad_accum=grad_accum), out=out)
    return {"history": result.history, "weights": {k: v.numpy() for k, v in result.policy.state_dict().items()}}


def _assert_close(a, b, rtol=1e-4):
    assert [h["step"] for h in a["history"]] == [h["step"] for h in b["history"]]
    for x, y in zip(a["history"], b["history"]):
        for k in ("train_loss", "val_loss"):
            assert x[k] == pytest.approx(y[k], rel=rtol), (k, x["step"])
    for k, v in a["weights"].items():
        np.testing.assert_allclose(v, b["weights"][k], rtol=rtol, atol=1e-6, err_msg=k)


@pytest.mark.slow  # two spawned ranks import torch: ~15-30 s on a busy 2-core machine
def test_two_gloo_ranks_train_as_one_process_at_the_same_effective_batch(tmp_path, data_dir):
    one = train_bc(load_any(data_dir), "mlp", MLPConfig(hidden_dims=(32, 32)), TrainConfig(**CONFIG),
                   out=tmp_path / "one")
    single = {"history": one.history, "weights": {k: v.numpy() for k, v in one.policy.state_dict().items()}}
    log = tmp_path / "writes.log"
    # 2 ranks x 2 accumulation micro-batches of 16 = the effective batch of 64
    results = launch(_rank_train, 2, str(data_dir), str(tmp_path / "two"), str(log), 2, 0)
    assert sorted(results) == [0, 1]
    _assert_close(results[0], single)
    _assert_close(results[1], single)  # every rank returns rank 0's best weights and history
    writes = log.read_text().split()
    assert writes and set(writes) == {"0"}  # rank 0 alone wrote the checkpoint and history.json
    assert json.loads((tmp_path / "two" / "history.json").read_text()) == results[0]["history"]
    cfg = json.loads((tmp_path / "two" / "config.json").read_text())
    assert (cfg["train"]["effective_batch_size"], cfg["train"]["micro_batch_size"], cfg["train"]["world_size"],
            cfg["train"]["grad_accum"], cfg["train"]["backend"]) == (64, 16, 2, 2, "gloo")
    assert cfg["best_val_loss"] == pytest.approx(one.best_val_loss, rel=1e-4)


def test_ranks_shards_are_disjoint_and_make_up_the_one_process_batch():
    """Each rank's micro-batches, in order, are its slice of the step's one-process draw (any draw: uniform or
    task-balanced); the ranks' slices together are that draw."""
    draws = [torch.randperm(1000)[:64] for _ in range(3)]
    per_rank = {r: list(shard(iter(draws), 2, RankContext(rank=r, world_size=2))) for r in (0, 1)}
    for step, idx in enumerate(draws):
        micro = [per_rank[r][2 * step + k] for r in (0, 1) for k in (0, 1)]
        assert [len(m) for m in micro] == [16] * 4
        assert torch.equal(torch.cat(micro), idx)
    one = list(shard(iter(draws), 1, RankContext()))
    assert all(a is b for a, b in zip(one, draws))  # one process: the draws themselves


def test_a_different_batch_is_not_within_the_tolerance(tmp_path, data_dir):
    """The tolerance above can fail: one process with another seed (other batches) leaves it."""
    a = train_bc(load_any(data_dir), "mlp", MLPConfig(hidden_dims=(32, 32)), TrainConfig(**CONFIG))
    b = train_bc(load_any(data_dir), "mlp", MLPConfig(hidden_dims=(32, 32)), TrainConfig(**{**CONFIG, "seed": 4}))
    with pytest.raises(AssertionError):
        _assert_close({"history": a.history, "weights": {k: v.numpy() for k, v in a.policy.state_dict().items()}},
                      {"history": b.history, "weights": {k: v.numpy() for k, v in b.policy.state_dict().items()}})


def test_gradient_accumulation_in_one_process_takes_the_same_steps(data_dir):
    runs = [train_bc(load_any(data_dir), "mlp", MLPConfig(hidden_dims=(32, 32)),
                     TrainConfig(**CONFIG, grad_accum=k)) for k in (1, 4)]
    a, b = ({"history": r.history, "weights": {k: v.numpy() for k, v in r.policy.state_dict().items()}} for r in runs)
    _assert_close(a, b)


def test_an_uneven_batch_is_refused_in_one_line(data_dir):
    with pytest.raises(ProtegeError, match=r"field 'batch_size': expected a multiple of world size x grad_accum "
                                           r"= 1 x 3 = 3 .*found 64"):
        train_bc(load_any(data_dir), "mlp", None, TrainConfig(**CONFIG, grad_accum=3))


@pytest.mark.slow  # a second launch of two ranks
def test_a_failing_rank_ends_in_one_line_naming_rank_and_step(tmp_path, data_dir, capfd):
    with pytest.raises(ProtegeError, match=r"training on 2 ranks: .*rank 1 exited with status 2"):
        launch(_rank_train, 2, str(data_dir), str(tmp_path / "out"), str(tmp_path / "log"), 1, 12)
    err = capfd.readouterr().err
    assert "error: training rank 1 of 2 failed at step 12: ValueError: injected failure" in err
