"""Where an interrupted `train_bc` continues from: its whole training state at the last validation point.

    <out>/train_state/          beside the checkpoint (carried over each time the checkpoint is rewritten)
      state.safetensors         the weights now (EMA copies included), the best weights so far, the
                                optimiser's tensors, every rank's random-generator state
      state.json                the step, best validation loss and step, the history, the scheduler and loss
                                scaler, and the run's settings (a resume with other settings is refused)

Rank 0 writes it as one folder, staged and renamed (`data/atomic.py`), at every validation point, after the
checkpoint: a kill leaves the previous state or the new one. Loading never unpickles: nested optimiser
state is split into tensors and JSON (`algos/rl/checkpoint.py`). The batches need no state of their own:
each step's indices are a function of the seed and the step, so a resumed run draws and discards the
steps already taken. What it deliberately does not keep: timings (a resumed run's samples/s and wall time
count its own part only) and the frame-decoding threads' queue (rebuilt from the same draws).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from protege.data.atomic import existing_folder, staged_folder, write_json
from protege.errors import ProtegeError

STATE_DIR = "train_state"
TENSORS, META = "state.safetensors", "state.json"
FORMAT = "protege-train-state"


def state_dir(out: str | Path) -> Path:
    return Path(out) / STATE_DIR


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """This process's torch random state (and its GPU's): what dropout, crops and per-sample noise draw next."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def save(out: str | Path, state: dict[str, Any]) -> None:
    """Write `state` (nested dicts/lists of tensors and JSON values) to `<out>/train_state` atomically."""
    from safetensors.torch import save_file

    from protege.algos.rl.checkpoint import split_tensors  # imported here: algos.rl imports bc, which imports this

    tensors: dict[str, torch.Tensor] = {}
    meta = split_tensors(state, tensors)
    with staged_folder(state_dir(out)) as stage:
        save_file(tensors, str(stage / TENSORS))
        write_json(stage / META, {"format": FORMAT, "state": meta})


def load(out: str | Path) -> dict[str, Any] | None:
    """The training state in `<out>/train_state`, or None when there is none (nothing to resume)."""
    from safetensors.torch import load_file

    from protege.algos.rl.checkpoint import join_tensors

    folder = existing_folder(state_dir(out))
    if not (folder / META).exists():
        return None
    where = folder / META
    try:
        meta = json.loads(where.read_text())
        if meta.get("format") != FORMAT:
            raise ProtegeError(f"{where}: field 'format': expected '{FORMAT}', found {meta.get('format')!r}")
        return join_tensors(meta["state"], load_file(str(folder / TENSORS)))
    except ProtegeError:
        raise
    except Exception as e:  # a damaged or hand-edited state: one line, never a traceback
        raise ProtegeError(f"{where}: expected a training state written by protege train, found "
                           f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}") from None


def remove(out: str | Path) -> None:
    """Drop a training state left in `out` by an earlier run (a fresh run must never resume it)."""
    shutil.rmtree(state_dir(out), ignore_errors=True)


def check_same_run(saved: dict[str, Any], now: dict[str, Any], where: Path) -> None:
    """Refuse to resume a state written with other settings (another run): one line naming the first field."""
    now = json.loads(json.dumps(now))  # tuples as lists, as the saved copy went through JSON
    for key in sorted(set(saved) | set(now)):
        if saved.get(key) != now.get(key):
            raise ProtegeError(f"{where}: field '{key}': expected {json.dumps(now.get(key))} (this run's), found "
                               f"{json.dumps(saved.get(key))} (the interrupted run's); resume with the same "
                               f"settings, or train afresh without --resume")


def settings(policy_name: str, policy: Any, config: Any, world_size: int, data: dict[str, int]) -> dict[str, Any]:
    """What makes a run the same run: the head and its config, the optimisation settings, the ranks and the
    data (a thread count, a device or a decoding setting may change between attempts)."""
    import dataclasses

    keep = ("steps", "batch_size", "grad_accum", "lr", "weight_decay", "warmup_steps", "grad_clip", "val_fraction",
            "eval_every", "seed", "precision", "balance_tasks", "task_weights")
    if config.rollout_every:  # what the kept weights were chosen by (absent: states saved before it existed match)
        keep += ("rollout_every", "rollout_episodes", "rollout_task")
    encoder = getattr(policy, "encoder_config", None)
    return {"policy": policy_name, "policy_config": dataclasses.asdict(policy.config),
            "encoder": dataclasses.asdict(encoder) if encoder is not None else None,
            **{k: getattr(config, k) for k in keep}, "world_size": world_size, **data}


def save_point(out: str | Path | None, rank: Any, device: torch.device, step: int, run_settings: dict[str, Any],
               policy: torch.nn.Module, opt: torch.optim.Optimizer, sched: Any, scaler: Any,
               best: tuple[dict[str, torch.Tensor] | None, float, int], history: list[dict[str, float]]) -> None:
    """Every rank at a validation point: gather the ranks' random states; rank 0 (`out` set) writes the state."""
    from protege.distributed import ddp

    rngs = ddp.gather(rng_state(device), rank)  # a collective: every rank calls it at the same step
    if out is None:
        return
    best_state, best_val, best_step = best
    save(out, {"step": step, "settings": run_settings, "model": policy.state_dict(), "optimizer": opt.state_dict(),
               "scheduler": sched.state_dict(), "scaler": scaler.state_dict() if scaler is not None else None,
               "rng": rngs, "best_state": best_state, "best_val": best_val, "best_step": best_step,
               "history": history})


def resume(out: str | Path | None, rank: Any, device: torch.device, run_settings: dict[str, Any],
           policy: torch.nn.Module, opt: torch.optim.Optimizer, sched: Any, scaler: Any) -> dict[str, Any] | None:
    """Every rank: rank 0 reads `<out>/train_state` and sends it to every rank, which loads the weights, the
    optimiser, the scheduler, the loss scaler and its own random state. Returns the state (its `step`,
    `best_state`, `best_val`, `best_step`, `history`), or None when there is nothing to resume."""
    from protege.distributed import ddp

    payload: dict[str, Any] | None = None
    if rank.is_main:
        try:
            payload = load(out) if out is not None else None
            if payload is not None:
                check_same_run(payload["settings"], run_settings, state_dir(out) / META)
        except ProtegeError as e:  # every rank ends with the same line, none waits for a state that never comes
            payload = {"error": str(e)}
    payload = ddp.from_rank0(payload, rank)
    if payload is None:
        return None
    if "error" in payload:
        raise ProtegeError(payload["error"])
    policy.load_state_dict(payload["model"])
    opt.load_state_dict(payload["optimizer"])
    sched.load_state_dict(payload["scheduler"])
    if scaler is not None and payload["scaler"]:
        scaler.load_state_dict(payload["scaler"])
    set_rng_state(payload["rng"][rank.rank], device)
    return payload


def saved_step(out: str | Path) -> int | None:
    """The step of the training state in `out` (None: none), read without loading its tensors."""
    where = existing_folder(state_dir(out)) / META
    try:
        pairs = json.loads(where.read_text())["state"]["__dict__"]
        return int(next(v for k, v in pairs if k == "step"))
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return None
