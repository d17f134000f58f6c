"""Behavioural cloning: the supervised training loop every policy head shares.

One readable loop, cut into stages: split by episode -> tensors in memory -> (sample indices, gather
batch, loss, step) -> periodic validation -> keep the best-validation weights. Batches are gathered by
index from whole-dataset tensors (see `data/windows.py`); there is no per-sample Python in the loop.

With cameras, a batch's frames are decoded on worker threads a few batches ahead (`data/loader.py`), and
the share of wall time the loop waited for data is recorded (`TrainResult.data_wait_fraction`, the
history). On a GPU the forward pass and loss run under mixed precision (`TrainConfig.precision`).

At every validation point the history gains one record (`HISTORY_KEYS`), and once a checkpoint exists the
whole history is rewritten atomically beside it as `history.json` (what `protege view` plots), so an
interrupted run keeps the curve it had.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import itertools
import math
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from protege.algos import train_state
from protege.checkpoint import save_checkpoint
from protege.data.atomic import write_json
from protege.data.episode import Episode
from protege.data.loader import Prefetcher
from protege.data.native import Dataset
from protege.data.stats import compute_stats
from protege.data.tasks import group_by_task, step_probabilities
from protege.data.windows import EpisodeDataset, split_by_episode
from protege.distributed import ddp
from protege.errors import ProtegeError, bad_input
from protege.policies import ConditioningConfig, EncoderConfig, PolicyBase, make_policy
from protege.policies.encoders.conditioning import CONDITION_KEY, episode_condition, load_text_encoder
from protege.policies.encoders.conditioning import vocabulary_from_episodes
from protege.progress import Progress, bar
from protege.runtime import set_threads


PRECISIONS = ("auto", "bf16", "fp16", "fp32")
HISTORY_FILE = "history.json"
HISTORY_KEYS = {
    "step": "optimiser steps done",
    "train_loss": "mean training loss of the steps since the previous record (over ranks under DDP)",
    "val_loss": "validation loss (the step-weighted mean over tasks on multi-task data)",
    "lr": "learning rate after this step",
    "samples_per_s": "training samples per second since the previous record (effective batch; validation excluded)",
    "data_wait": "share of wall time so far spent waiting for batches",
    "val_loss/<task>": "validation loss of one task (only when the validation episodes hold several tasks)",
    "rollout_success": "success rate of the rollouts at this point (only at rollout points, --rollout-every)",
}


@dataclass
class TrainConfig:
    steps: int = 0
    """Gradient steps; 0 = picked from the dataset (`auto_steps`): 25 passes over its samples at this batch
    size, and never fewer than 2000 steps."""
    batch_size: int = 256
    """Samples per optimiser step: the effective batch, over all ranks and accumulation micro-batches (each
    rank's forward pass sees batch_size / (ranks x grad_accum); it must divide evenly)."""
    grad_accum: int = 1
    """Micro-batches whose gradients are summed before each optimiser step: the effective batch in smaller
    forward passes (memory), the same step as one pass over the whole batch."""
    lr: float = 1e-3
    """Peak learning rate (AdamW)."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    warmup_steps: int = 200
    """Linear warm-up steps before the cosine decay."""
    grad_clip: float = 1.0
    """Gradient norm clip (0 = off)."""
    val_fraction: float = 0.1
    """Fraction of episodes held out for validation (split by episode, never by sample)."""
    eval_every: int = 250
    """Validate (and keep the best weights) every this many steps."""
    seed: int = 0
    """Seed for initialisation, the split and batch sampling."""
    device: str = "auto"
    """Torch device: "auto" (cuda when available, else cpu), "cpu", "cuda" or "cuda:N"."""
    precision: str = "auto"
    """Mixed precision on a GPU: "auto" (bf16 where supported, else fp16 with loss scaling), "bf16", "fp16"
    or "fp32"; the CPU always trains in fp32."""
    workers: int = 2
    """Threads decoding camera frames ahead of the optimiser (0 = in the loop); unused without cameras."""
    prefetch: int = 4
    """Batches decoded ahead of the optimiser (a bounded queue); unused without cameras."""
    tensorboard: str | None = None
    """Folder for TensorBoard scalars (off when unset)."""
    threads: int = 0
    """torch CPU threads; 0 = the library default (usable cores, at most 4)."""
    balance_tasks: bool = False
    """Multi-task data (episodes tagged with `info["task"]`): draw every task's steps equally often (times
    --task-weights) instead of in proportion to how many steps its demonstrations have."""
    task_weights: dict[str, float] = field(default_factory=dict)
    """Per-task sampling weights (task name -> weight, 1 where not given); implies --balance-tasks."""
    rollout_every: int = 0
    """Keep the weights that succeed most often in the task rather than those with the lowest validation
    loss: roll the policy out --rollout-episodes times every this many steps (a multiple of --eval-every;
    also at the last step) and keep the best success rate, ties going to the lower validation loss (as
    robomimic keeps its best-rollout checkpoint); 0 = off. Needs a simulated task (--rollout-task)."""
    rollout_episodes: int = 10
    """Episodes per rollout point (seeds of their own, never those of recordings or `protege eval`)."""
    rollout_task: str | None = None
    """Task to roll out in; default: the task the dataset was recorded from."""

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ProtegeError(f"train config: field 'steps': expected >= 1 (0 = auto), found {self.steps}")
        for name in ("batch_size", "eval_every", "grad_accum"):
            if getattr(self, name) < 1:
                raise ProtegeError(f"train config: field '{name}': expected >= 1, found {getattr(self, name)}")
        if not 0 <= self.val_fraction < 1:
            raise ProtegeError(f"train config: field 'val_fraction': expected in [0, 1), found {self.val_fraction}")
        if self.lr <= 0:
            raise ProtegeError(f"train config: field 'lr': expected > 0, found {self.lr}")
        if self.threads < 0:
            raise ProtegeError(f"train config: field 'threads': expected >= 0 (0 = the default), found {self.threads}")
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", str(self.device)):
            raise bad_input("train config", "device", "'auto', 'cpu', 'cuda' or 'cuda:N'", repr(self.device))
        if self.precision not in PRECISIONS:
            raise bad_input("train config", "precision", f"one of {list(PRECISIONS)}", repr(self.precision))
        if self.workers < 0:
            raise bad_input("train config", "workers", ">= 0 (0 = decode in the loop)", str(self.workers))
        if self.prefetch < 1:
            raise bad_input("train config", "prefetch", ">= 1", str(self.prefetch))
        if self.rollout_every < 0 or self.rollout_every % self.eval_every:
            raise bad_input("train config", "rollout_every", f"0 or a multiple of eval_every ({self.eval_every})",
                            str(self.rollout_every))
        if self.rollout_episodes < 1:
            raise bad_input("train config", "rollout_episodes", ">= 1", str(self.rollout_episodes))


@dataclass
class TrainResult:
    policy: PolicyBase
    best_val_loss: float
    best_step: int
    history: list[dict[str, float]] = field(default_factory=list)
    """One record per validation point (keys in `HISTORY_KEYS`); also written to `<out>/history.json`."""
    samples_per_second: float = 0.0
    wall_seconds: float = 0.0
    data_wait_fraction: float = 0.0
    """Share of wall time the loop was blocked waiting for a batch (training and validation)."""
    device: str = "cpu"
    """The device trained on."""
    precision: str = "fp32"
    """The precision of the forward pass and loss ("fp32", "bf16" or "fp16")."""
    best_rollout_success: float | None = None
    """With --rollout-every: the rollout success rate of the kept weights."""


AUTO_MIN_STEPS, AUTO_EPOCHS = 2000, 25


def auto_steps(samples: int, batch_size: int) -> int:
    """The training budget when none is given: AUTO_EPOCHS passes over the samples, at least AUTO_MIN_STEPS.
    Measured at both ends (docs/benchmarks/heads.md, multitask.md): 2000 steps is what every head was
    benchmarked with on 50 demonstrations of each task (2637-5055 samples on the Meta-World tasks: the floor
    applies), and the 50-task Meta-World policy trained 20000 x 256, about 25 passes over its 2500
    demonstrations at those tasks' 53-101 steps per demonstration."""
    return max(AUTO_MIN_STEPS, math.ceil(AUTO_EPOCHS * samples / batch_size))


def _cosine_with_warmup(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _device(name: str) -> torch.device:
    """The torch device for TrainConfig.device; a GPU asked for on a machine without one is refused."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise bad_input("train config", "device", f"a CUDA GPU for '{name}'",
                            "none on this machine (torch.cuda.is_available() is False; use --device auto or cpu)")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise bad_input("train config", "device", f"a GPU index below {torch.cuda.device_count()}", repr(name))
    return torch.device(name)


def _amp_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype for the forward pass and loss, or None for plain fp32 (always on the CPU)."""
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def _batches(data: EpisodeDataset, indices: Any, device: torch.device, config: "TrainConfig") -> Prefetcher:
    """Batches for `indices` (an iterator of (B,) index tensors drawn on this thread), moved to `device`.

    A dataset in memory (vector keys only) is gathered in the loop as it always was; one with cameras is
    gathered and decoded on `config.workers` threads, `config.prefetch` batches ahead, on the CPU, in
    page-locked memory when the copy goes to a GPU.
    """
    pin = data.has_images and device.type == "cuda"

    def make(idx: torch.Tensor):
        batch = data.batch(idx.to(data.action.device))
        return batch.pin_memory() if pin else batch

    workers = config.workers if data.has_images else 0
    return Prefetcher(make, indices, workers=workers, depth=config.prefetch)


@torch.no_grad()
def _validate(policy: PolicyBase, data: EpisodeDataset, batch_size: int, device: torch.device,
              config: "TrainConfig | None" = None, autocast: Callable[[], Any] = contextlib.nullcontext) -> tuple[float, float]:
    """(weighted mean validation loss, seconds spent waiting for batches)."""
    policy.eval()
    total = weight = 0.0
    size = batch_size if data.has_images else 4 * batch_size  # an image encoder's activations bound memory
    chunks = (torch.arange(s, min(len(data), s + size)) for s in range(0, len(data), size))
    with _batches(data, chunks, device, config or TrainConfig()) as loader:
        for batch in loader:
            batch = batch.to(device, non_blocking=True)
            with autocast():
                loss, _ = policy.compute_loss(batch)
            w = float(batch.weight.sum())
            total += float(loss) * w
            weight += w
    policy.train()
    return total / max(weight, 1e-12), loader.wait_seconds


def _rollout_scorer(config: TrainConfig, dataset: Dataset) -> Callable[[PolicyBase], float] | None:
    """What scores weights by rollouts (`algos/selection.py`), or None when --rollout-every is off."""
    if not config.rollout_every:
        return None
    where = str(dataset.path) if dataset.path else "dataset"
    task = config.rollout_task or dataset.meta.get("task")
    if not task:
        raise bad_input(where, "rollout_task", "a task to roll out in (--rollout-task, or a dataset recorded "
                        "from a task)", "none")
    from protege.algos.selection import RolloutScorer

    return RolloutScorer(task, config.rollout_episodes, dataset.spec, where)


def train_bc(dataset: Dataset, policy_name: str = "mlp", policy_config: Any = None,
             config: TrainConfig | None = None, out: str | Path | None = None,
             progress: Progress | None = None, extra: dict[str, Any] | None = None,
             init_policy: PolicyBase | None = None,
             sample_weights: Callable[[Episode], np.ndarray] | None = None,
             encoder: EncoderConfig | None = None, conditioning: ConditioningConfig | None = None,
             resume: bool = False, save_state: bool = False) -> TrainResult:
    """Train a policy by behavioural cloning on `dataset`; write the best-validation checkpoint to `out`.

    The checkpoint is rewritten each time validation improves, so an interrupted run keeps its best so far;
    `history.json` beside it is rewritten at every validation point once the checkpoint exists.
    encoder: how camera keys are read (`EncoderConfig`; None = init_policy's, else the default); recorded in
        the checkpoint.
    init_policy: warm start from this policy's weights (same head and config); the normalisation
        statistics are still computed from `dataset`'s training episodes.
    sample_weights: episode -> (T,) per-step loss weights (e.g. intervention-weighted regression);
        all ones when unset.
    conditioning: condition the policy on each episode's task name or instruction (`info["task"]`,
        `info["instruction"]`); the vocabulary is taken from the whole dataset and stored in the checkpoint.
        None = init_policy's conditioning, else unconditioned.
    save_state: write the whole training state (weights, optimiser, scheduler, EMA, step, random states) to
        `<out>/train_state/` at every validation point (`algos/train_state.py`); a state left there by an
        earlier run is removed first.
    resume: continue from the training state in `out` when there is one (an interrupted run, which must have
        had the same settings), else start at step 0; implies save_state. The resumed run takes the same
        steps as one that was never interrupted.

    With several tasks in the validation episodes, the history records a validation loss per task
    (`val_loss/<task>`) and the overall one is their step-weighted mean.
    """
    config = config or TrainConfig()
    if not config.steps:
        config = replace(config, steps=auto_steps(dataset.num_steps, config.batch_size))
    rank, rank_device = ddp.setup(config.device)  # one of several ranks under torchrun, else one process
    micro_batch = ddp.check_batch(config.batch_size, config.grad_accum, rank)
    keep_state = resume or save_state  # every rank takes part in writing it (their random states)
    if keep_state and out is None:
        raise bad_input("train_bc", "out", "the checkpoint folder the training state is kept in (resume/save_state)",
                        "None")
    if not rank.is_main:  # rank 0 alone validates, writes the checkpoint and reports
        out, progress = None, None
    threads = set_threads(ddp.rank_threads(config.threads, rank))  # a float sum split over other thread counts trains another network
    torch.manual_seed(config.seed)
    device = rank_device or _device(config.device)
    amp_dtype = _amp_dtype(device, config.precision)
    precision = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[amp_dtype]

    def autocast():
        return torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()

    scorer = _rollout_scorer(config, dataset) if rank.is_main else None  # a bad --rollout-task fails first
    # --- data: split by episode, statistics from the training episodes only -----------------------
    train_eps, val_eps = split_by_episode(dataset, config.val_fraction, config.seed)
    n_val_eps = len(val_eps)
    if not rank.is_main:  # rank 0 alone validates
        val_eps = []
    stats = compute_stats(train_eps)
    if encoder is None and init_policy is not None:  # a warm start (a DAgger round) keeps its encoder
        encoder = init_policy.encoder_config
    if conditioning is None and init_policy is not None:
        conditioning = init_policy.conditioning
    if conditioning is not None and conditioning.enabled:
        where = str(dataset.path) if dataset.path else "dataset"
        conditioning = vocabulary_from_episodes(conditioning, dataset.episodes, where)
    policy = make_policy(policy_name, policy_config, dataset.spec, stats, encoder, conditioning).to(device)
    text_encoder = load_text_encoder(policy.conditioning) \
        if policy.conditioning is not None and policy.conditioning.kind == "embedding" else None
    if init_policy is not None:  # weights only: the statistics buffers stay those of this dataset
        keep = {k: v for k, v in init_policy.state_dict().items() if "normalizer" not in k}
        policy.load_state_dict(keep, strict=False)

    def windows(eps: list[Episode]) -> EpisodeDataset:
        weights = [np.asarray(sample_weights(e), np.float32) for e in eps] if sample_weights else None
        if policy.conditioning is not None:  # the condition as one more observation key of every step
            eps = [dataclasses.replace(e, observations={
                **e.observations, CONDITION_KEY: episode_condition(policy.conditioning, e, text_encoder)}) for e in eps]
        return EpisodeDataset(eps, n_obs=policy.n_obs, horizon=policy.horizon, weights=weights, spec=dataset.spec,
                              cameras=policy.camera_keys)  # a camera the policy does not read is never decoded

    train_data = windows(train_eps)
    val_groups = group_by_task(val_eps)
    # one validation set per task where there are several, so the history shows which task lags
    val_sets = {t: windows(eps) for t, eps in val_groups.items()} if len(val_groups) > 1 else \
        ({"": windows(val_eps)} if val_eps else {})
    policy.fit_data(train_data.action)  # data-dependent set-up, e.g. quantile bin edges of the discrete head
    if device.type != "cpu" and not train_data.has_images:  # whole dataset on the accelerator: gathered there
        for d in (train_data, *val_sets.values()):
            d.to(device)

    if rank.distributed:  # each rank its own noise (dropout, diffusion steps, crops) for its own samples
        torch.manual_seed(config.seed + 1_000_003 * rank.rank)
    compute_loss, grad_sync = ddp.loss_function(policy, rank, device)  # DistributedDataParallel on several ranks

    # --- optimiser ------------------------------------------------------------------------------
    # foreach: one kernel per update over all tensors (torch's default on CUDA only); on the CPU 11% less wall
    # time per mlp step (pick-place, batch 128, 1 thread), more for heads with many small tensors
    opt = torch.optim.AdamW(policy.parameters(), lr=config.lr, weight_decay=config.weight_decay, foreach=True)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None  # fp16 gradients underflow
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: _cosine_with_warmup(s, config.steps, min(config.warmup_steps, config.steps // 10 + 1)))
    writer = None
    if config.tensorboard and rank.is_main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(config.tensorboard)

    ckpt_extra = {
        # the thread count, device and precision used, so a run can be repeated exactly
        "train": {**asdict(config), "threads": threads, "device": str(device), "precision": precision,
                  "effective_batch_size": config.batch_size, "micro_batch_size": micro_batch,
                  "world_size": rank.world_size, "backend": rank.backend},
        "dataset": {"path": str(dataset.path) if dataset.path else None, "task": dataset.meta.get("task"),
                    "episodes": len(dataset), "train_episodes": len(train_eps), "val_episodes": n_val_eps,
                    "episode_seeds": sorted({int(e.info["seed"]) for e in dataset.episodes if "seed" in e.info})},
        **(extra or {}),
    }
    gen = torch.Generator(device="cpu").manual_seed(config.seed)
    best_val, best_step, best_state = math.inf, -1, None
    best_score = -1.0  # rollout success of the kept weights (--rollout-every)
    history: list[dict[str, float]] = []
    # --- resume: an interrupted run's whole state at its last validation point (algos/train_state.py) ---
    run_settings = train_state.settings(policy_name, policy, config, rank.world_size,
                                        {"train_samples": len(train_data), "val_episodes": n_val_eps})
    start_step = 0
    if keep_state and out is not None and not resume:
        train_state.remove(out)  # a fresh run never resumes a state an earlier run left in its folder
    resumed = train_state.resume(out, rank, device, run_settings, policy, opt, sched, scaler) if resume else None
    if resumed is not None:
        start_step, history = resumed["step"], resumed["history"]
        best_state, best_val, best_step = resumed["best_state"], resumed["best_val"], resumed["best_step"]
        best_score = next((h["rollout_success"] for h in history if h["step"] == best_step and "rollout_success" in h),
                          best_score)
    pbar = bar(progress, f"train {policy_name}", config.steps, unit="step")
    start = time.perf_counter()
    reported = 0  # steps already shown on the progress bar
    if start_step:  # a resumed run's bar starts where the interrupted one stopped
        pbar.update(start_step)
        reported = start_step
    n_train = len(train_data)
    # indices are drawn here, on this thread, in step order: the same batches as drawing them in the loop
    if config.balance_tasks or config.task_weights:  # each task drawn equally often (times its weight)
        probs = torch.as_tensor(step_probabilities(train_eps, config.task_weights))
        draws = (torch.multinomial(probs, config.batch_size, replacement=True, generator=gen)
                 for _ in range(config.steps))
    else:
        draws = (torch.randint(n_train, (config.batch_size,), generator=gen) for _ in range(config.steps))
    draws = itertools.islice(draws, start_step, None)  # resumed: the steps already taken, drawn and dropped
    draws = ddp.shard(draws, config.grad_accum, rank)  # this rank's micro-batches of each step's global draw
    loader = _batches(train_data, draws, device, config)
    val_wait = 0.0
    loss_sum = torch.zeros((), device=device)  # summed on the device: no synchronisation per step
    since, mark = 0, time.perf_counter()  # steps and clock since the previous validation point
    # history.json goes beside a checkpoint of this run (a resumed run's is in `out` already), never into a
    # stranger's folder
    saved = resumed is not None and out is not None and (Path(out) / "config.json").is_file()
    policy.train()
    try:
        for step in range(start_step, config.steps):
            # --- forward / loss / step ----------------------------------------------------------
            opt.zero_grad(set_to_none=True)
            losses = []
            for k in range(config.grad_accum):  # micro-batches; on several ranks DDP all-reduces on the last
                batch = next(loader).to(device, non_blocking=True)
                with grad_sync(k + 1 == config.grad_accum):
                    with autocast():
                        micro_loss, metrics = compute_loss(batch)
                    scaled = micro_loss / config.grad_accum if config.grad_accum > 1 else micro_loss
                    (scaler.scale(scaled) if scaler is not None else scaled).backward()
                losses.append(micro_loss.detach())
            loss = losses[0] if len(losses) == 1 else torch.stack(losses).mean()  # the step's: mean of micro-batches
            if scaler is not None:
                scaler.unscale_(opt)  # clip the true gradients
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(policy.parameters(), config.grad_clip)
            if scaler is not None:
                scaler.step(opt)
                scaler.update()
            else:
                opt.step()
            sched.step()
            policy.after_optimizer_step()  # e.g. an EMA of the weights (diffusion, flow)
            loss_sum += loss.detach().float()
            since += 1

            # --- validation and best checkpoint -------------------------------------------------
            last = step + 1 == config.steps
            if (step + 1) % config.eval_every == 0 or last:
                trained = time.perf_counter() - mark
                # the mean of the steps since the last point, over ranks: the whole batches' loss
                train_loss = ddp.mean_over_ranks(float(loss_sum) / since, rank, device)
                val = train_loss
                per_task: dict[str, float] = {}
                for name, data in val_sets.items():
                    per_task[name], waited = _validate(policy, data, config.batch_size, device, config, autocast)
                    val_wait += waited
                if per_task:  # the step-weighted mean over tasks: the loss of all validation steps
                    val = sum(per_task[n] * len(d) for n, d in val_sets.items()) / sum(len(d) for d in val_sets.values())
                rolled = scorer is not None and ((step + 1) % config.rollout_every == 0 or last)
                score = scorer(policy) if rolled else None
                history.append({"step": step + 1, "train_loss": train_loss, "val_loss": val,
                                "lr": sched.get_last_lr()[0],
                                "samples_per_s": since * config.batch_size / max(trained, 1e-9),
                                "data_wait": (loader.wait_seconds + val_wait) / max(time.perf_counter() - start, 1e-9),
                                **({f"val_loss/{n}": v for n, v in per_task.items()} if len(per_task) > 1 else {}),
                                **({"rollout_success": score} if rolled else {})})
                if writer is not None:
                    writer.add_scalar("loss/train", train_loss, step + 1)
                    writer.add_scalar("loss/val", val, step + 1)
                    for n, v in per_task.items():
                        if len(per_task) > 1:
                            writer.add_scalar(f"loss/val/{n}", v, step + 1)
                    writer.add_scalar("lr", sched.get_last_lr()[0], step + 1)
                    if rolled:
                        writer.add_scalar("rollout/success", score, step + 1)
                # with rollouts: the best success rate, ties to the lower validation loss; else the lowest loss
                better = val < best_val if scorer is None else rolled and (score, -val) > (best_score, -best_val)
                if better:
                    best_val, best_step, best_score = val, step + 1, score if rolled else best_score
                    best_state = copy.deepcopy(policy.state_dict())
                    if out is not None:
                        policy.eval()
                        per = {"best_val_loss_per_task": per_task} if len(per_task) > 1 else {}
                        rollouts = {"best_rollout_success": best_score} if scorer is not None else {}
                        save_checkpoint(policy, out, {**ckpt_extra, "best_val_loss": best_val, "best_step": best_step,
                                                      **per, **rollouts})
                        saved = True
                        policy.train()
                if saved:  # out is None on every rank but 0
                    write_json(Path(out) / HISTORY_FILE, history)
                loss_sum.zero_()
                since, mark = 0, time.perf_counter()
                if keep_state:  # after the checkpoint: a kill leaves a state no newer than the checkpoint
                    train_state.save_point(out, rank, device, step + 1, run_settings, policy, opt, sched, scaler,
                                           (best_state, best_val, best_step), history)
            if (step + 1) % 50 == 0 or last:
                elapsed = time.perf_counter() - start
                shown = {"data_wait": f"{(loader.wait_seconds + val_wait) / max(elapsed, 1e-9):.0%}"} \
                    if train_data.has_images else {}
                if scorer is not None and best_score >= 0:
                    shown["rollout"] = f"{best_score:.0%}"
                pbar.update(step + 1 - reported, loss=float(loss.detach()), val=best_val,
                            samples_per_s=(step + 1 - start_step) * config.batch_size / max(elapsed, 1e-9), **shown)
                reported = step + 1
    except Exception as e:
        if rank.distributed:  # one line naming the rank and the step, on every rank that fails
            raise ddp.rank_failure(rank, step + 1, e) from e
        raise
    finally:
        loader.close()  # no decoding thread outlives the run, also on an error or Ctrl-C
        pbar.close()
        if writer is not None:
            writer.close()
    wall = time.perf_counter() - start
    # every rank returns rank 0's result: the weights it validated best and its history
    best_state, best_val, best_step, best_score, history = ddp.from_rank0(
        (best_state, best_val, best_step, best_score, history), rank)
    ddp.close(rank)
    if best_state is not None:
        policy.load_state_dict(best_state)
    policy.eval()
    return TrainResult(policy=policy, best_val_loss=best_val, best_step=best_step, history=history,
                       best_rollout_success=best_score if config.rollout_every else None,
                       samples_per_second=(config.steps - start_step) * config.batch_size / max(wall, 1e-9),
                       wall_seconds=wall,
                       data_wait_fraction=(loader.wait_seconds + val_wait) / max(wall, 1e-9), device=str(device),
                       precision=precision)
