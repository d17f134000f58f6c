"""Data-parallel training: the pieces `algos/bc.py` uses when it runs as one of several ranks.

A training run launched by torchrun (`torchrun --nproc-per-node N -m protege train ...`, or `protege train
--nproc N`, or a user's script under torchrun) finds RANK / WORLD_SIZE / LOCAL_RANK in its environment;
`setup` then joins the process group (gloo on the CPU, NCCL on GPUs, one GPU per local rank) and the same
loop trains under DistributedDataParallel. One process is the case world_size = 1, untouched.

The contract with one process (what the tests check):
- `TrainConfig.batch_size` is the effective batch: samples per optimiser step over all ranks and all
  accumulation micro-batches. Each rank takes batch_size / world_size of them, in `grad_accum` micro-batches.
- Every rank draws the step's global batch of indices from one generator seeded with `TrainConfig.seed`
  (exactly the draw one process makes) and keeps its own slice: the ranks' shards are disjoint and
  together are the batch one process would train on.
- DDP averages the ranks' gradients, so the step is the one process's step up to float summation order
  (exact for per-sample-mean losses with uniform weights; a head that draws noise per sample, e.g.
  diffusion or flow, draws it per rank from its own stream, so it matches in distribution, not bit for bit).
- Rank 0 alone validates, writes the checkpoint (atomically, as one process does) and TensorBoard, and
  draws the progress bar; at the end its best weights and history are sent to every rank.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Iterable, Iterator

import torch

from protege.errors import ProtegeError, bad_input


@dataclass(frozen=True)
class RankContext:
    rank: int = 0
    """This process's global rank."""
    world_size: int = 1
    """Processes training the one policy (all nodes)."""
    local_rank: int = 0
    """Rank on this node (the GPU index it uses)."""
    local_world_size: int = 1
    """Processes on this node."""
    backend: str | None = None
    """"gloo" or "nccl"; None for one process."""
    owns_group: bool = False
    """This run started the process group (and ends it); False when the caller had started one."""

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def describe(self) -> str:
        return f"rank {self.rank} of {self.world_size}"


def env_rank() -> int:
    """The global rank torchrun gave this process (0 outside torchrun)."""
    return int(os.environ.get("RANK", "0") or 0)


def under_launcher() -> bool:
    """True inside a process torchrun (or `protege train --nproc`) started as one of several ranks."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1


def _device_for_rank(name: str, local_rank: int) -> torch.device:
    if name == "cpu":
        return torch.device("cpu")
    if name in ("auto", "cuda"):
        if torch.cuda.is_available():
            if local_rank >= torch.cuda.device_count():
                raise bad_input("train config", "device", f"a GPU for local rank {local_rank}",
                                f"{torch.cuda.device_count()} GPUs on this node (fewer --nproc-per-node)")
            return torch.device("cuda", local_rank)
        if name == "cuda":
            raise bad_input("train config", "device", "a CUDA GPU for 'cuda'", "none on this node")
        return torch.device("cpu")
    return torch.device(name)  # "cuda:N" chosen by hand


def setup(device_name: str) -> tuple[RankContext, torch.device | None]:
    """Join the process group torchrun describes in the environment; (context, this rank's device).

    Outside torchrun (WORLD_SIZE unset or 1) and without a group: the one-process context and None (the
    caller chooses the device as it always did).
    """
    import torch.distributed as dist

    started = dist.is_available() and dist.is_initialized()
    if not under_launcher() and not started:
        return RankContext(), None
    local_rank = int(os.environ.get("LOCAL_RANK", "0") or 0)
    device = _device_for_rank(device_name, local_rank)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not started:
        # a rank that waits longer than this for the others (one died without the launcher noticing) fails
        timeout = timedelta(minutes=10)
        device_id = device if device.type == "cuda" else None
        restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0)
        if restart == 0:
            dist.init_process_group(backend, timeout=timeout, device_id=device_id)
        else:  # a restarted group: the launcher's store still holds the first attempt's addresses; a fresh prefix
            rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
            agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() == "true"
            base = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world,
                                 is_master=not agent_store and rank == 0, timeout=timeout)
            dist.init_process_group(backend, store=dist.PrefixStore(f"protege-attempt-{restart}", base), rank=rank,
                                    world_size=world, timeout=timeout, device_id=device_id)
    else:
        backend = dist.get_backend()
    ctx = RankContext(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank,
                      local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", dist.get_world_size())),
                      backend=backend, owns_group=not started)
    return ctx, device


def close(ctx: RankContext) -> None:
    """End the process group this run started (a caller's own group is left to the caller)."""
    import torch.distributed as dist

    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def rank_threads(threads: int, ctx: RankContext) -> int:
    """torch threads for a rank: the explicit count, else (several ranks on one node) the usable cores shared
    among this node's ranks, so N ranks on N cores do not oversubscribe them."""
    from protege import runtime

    if threads or getattr(runtime, "_chosen", None) or not ctx.distributed:
        return threads
    return max(1, runtime.default_threads() // max(1, ctx.local_world_size))


def check_batch(batch_size: int, grad_accum: int, ctx: RankContext) -> int:
    """The micro-batch size each rank trains on per forward pass; refuses a batch that does not split evenly."""
    parts = ctx.world_size * grad_accum
    if batch_size % parts:
        raise bad_input("train config", "batch_size", f"a multiple of world size x grad_accum = {ctx.world_size} x "
                        f"{grad_accum} = {parts} (the effective batch splits evenly into micro-batches)",
                        str(batch_size))
    return batch_size // parts


def shard(draws: Iterable[torch.Tensor], grad_accum: int, ctx: RankContext) -> Iterator[torch.Tensor]:
    """This rank's micro-batches, in training order, from `draws`: one (batch_size,) global index tensor per
    step, drawn from one generator exactly as one process draws it (uniform or task-balanced).

    Rank r keeps [r * B/W, (r + 1) * B/W) of each step's draw, cut into `grad_accum` micro-batches. With
    world_size 1 and grad_accum 1 this is the draw itself, untouched.
    """
    if ctx.world_size == 1 and grad_accum == 1:
        yield from draws
        return
    for idx in draws:
        per_rank = idx.shape[0] // ctx.world_size
        mine = idx[ctx.rank * per_rank:(ctx.rank + 1) * per_rank]
        micro = per_rank // grad_accum
        for k in range(grad_accum):
            yield mine[k * micro:(k + 1) * micro]


class _LossModule(torch.nn.Module):
    """DDP reduces the gradients of what its `forward` computed; a policy's loss is `compute_loss`."""

    def __init__(self, policy: torch.nn.Module):
        super().__init__()
        self.policy = policy

    def forward(self, batch: Any) -> Any:
        return self.policy.compute_loss(batch)


def loss_function(policy: torch.nn.Module, ctx: RankContext,
                  device: torch.device) -> tuple[Callable[[Any], Any], Callable[[bool], Any]]:
    """(batch -> (loss, metrics), sync(last_micro_batch) -> context manager).

    One process: the policy's own `compute_loss`. Several: the same through DistributedDataParallel, whose
    gradient all-reduce runs on the last micro-batch of a step only (`no_sync` before it).
    """
    if not ctx.distributed:
        return policy.compute_loss, lambda last: contextlib.nullcontext()
    from torch.nn.parallel import DistributedDataParallel as DDP

    # buffers (normalisation statistics, EMA copies) evolve identically on every rank: nothing to broadcast
    ddp = DDP(_LossModule(policy), device_ids=[device.index] if device.type == "cuda" else None,
              forward_sync_buffers=False)
    return ddp, lambda last: contextlib.nullcontext() if last else ddp.no_sync()


def mean_over_ranks(value: float, ctx: RankContext, device: torch.device) -> float:
    """The mean of a scalar over ranks (every rank must call it at the same point)."""
    if not ctx.distributed:
        return value
    import torch.distributed as dist

    t = torch.tensor([value], dtype=torch.float64, device=device if ctx.backend == "nccl" else "cpu")
    dist.all_reduce(t)
    return float(t.item()) / ctx.world_size


def from_rank0(obj: Any, ctx: RankContext) -> Any:
    """Rank 0's `obj` on every rank (e.g. the best weights and the history only rank 0 validated)."""
    if not ctx.distributed:
        return obj
    import torch.distributed as dist

    box = [obj if ctx.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj: Any, ctx: RankContext) -> list[Any]:
    """Every rank's `obj`, in rank order, on every rank (every rank must call it at the same point), e.g.
    each rank's random state for the training state rank 0 writes."""
    if not ctx.distributed:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def rank_failure(ctx: RankContext, step: int, e: BaseException) -> ProtegeError:
    """The one line a failing rank ends with: which rank, at which step, what went wrong."""
    msg = str(e).strip().splitlines()[0] if str(e).strip() else "(no message)"
    peer = " (another rank probably stopped)" if type(e).__name__ in ("DistBackendError", "DistNetworkError") \
        or "Connection closed" in msg or "connection" in msg.lower() else ""
    kind = "" if isinstance(e, ProtegeError) else f"{type(e).__name__}: "
    return ProtegeError(f"training {ctx.describe()} failed at step {step}: {kind}{msg}{peer}")
