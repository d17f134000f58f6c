"""Behavioural cloning: the supervised training loop every policy head shares.

One readable loop, cut into stages: split by episode -> tensors in memory -> (sample indices, gather
batch, loss, step) -> periodic validation -> keep the best-validation weights. Batches are gathered by
index from whole-dataset tensors (see `data/windows.py`); there is no per-sample Python in the loop.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from protege.checkpoint import save_checkpoint
from protege.data.episode import Episode
from protege.data.native import Dataset
from protege.data.stats import compute_stats
from protege.data.windows import EpisodeDataset, split_by_episode
from protege.errors import ProtegeError
from protege.policies import PolicyBase, make_policy
from protege.progress import Progress, bar
from protege.runtime import set_threads


@dataclass
class TrainConfig:
    steps: int = 5_000
    """Gradient steps."""
    batch_size: int = 256
    """Samples per gradient step."""
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
    device: str = "cpu"
    """Torch device ("cpu", "cuda", or "auto" for cuda when available)."""
    tensorboard: str | None = None
    """Folder for TensorBoard scalars (off when unset)."""
    threads: int = 0
    """torch CPU threads; 0 = the library default (usable cores, at most 4)."""

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_every"):
            if getattr(self, name) < 1:
                raise ProtegeError(f"train config: field '{name}': expected >= 1, found {getattr(self, name)}")
        if not 0 <= self.val_fraction < 1:
            raise ProtegeError(f"train config: field 'val_fraction': expected in [0, 1), found {self.val_fraction}")
        if self.lr <= 0:
            raise ProtegeError(f"train config: field 'lr': expected > 0, found {self.lr}")
        if self.threads < 0:
            raise ProtegeError(f"train config: field 'threads': expected >= 0 (0 = the default), found {self.threads}")


@dataclass
class TrainResult:
    policy: PolicyBase
    best_val_loss: float
    best_step: int
    history: list[dict[str, float]] = field(default_factory=list)
    samples_per_second: float = 0.0
    wall_seconds: float = 0.0


def _cosine_with_warmup(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@torch.no_grad()
def _validate(policy: PolicyBase, data: EpisodeDataset, batch_size: int, device: torch.device) -> float:
    policy.eval()
    total = weight = 0.0
    for start in range(0, len(data), 4 * batch_size):
        idx = torch.arange(start, min(len(data), start + 4 * batch_size))
        batch = data.batch(idx).to(device)
        loss, _ = policy.compute_loss(batch)
        w = float(batch.weight.sum())
        total += float(loss) * w
        weight += w
    policy.train()
    return total / max(weight, 1e-12)


def train_bc(dataset: Dataset, policy_name: str = "mlp", policy_config: Any = None,
             config: TrainConfig | None = None, out: str | Path | None = None,
             progress: Progress | None = None, extra: dict[str, Any] | None = None,
             init_policy: PolicyBase | None = None,
             sample_weights: Callable[[Episode], np.ndarray] | None = None) -> TrainResult:
    """Train a policy by behavioural cloning on `dataset`; write the best-validation checkpoint to `out`.

    The checkpoint is rewritten each time validation improves, so an interrupted run keeps its best so far.
    init_policy: warm start from this policy's weights (same head and config); the normalisation
        statistics are still computed from `dataset`'s training episodes.
    sample_weights: episode -> (T,) per-step loss weights (e.g. intervention-weighted regression);
        all ones when unset.
    """
    config = config or TrainConfig()
    threads = set_threads(config.threads)  # a float sum split over other thread counts trains another network
    torch.manual_seed(config.seed)
    device = _device(config.device)

    # --- data: split by episode, statistics from the training episodes only -----------------------
    train_eps, val_eps = split_by_episode(dataset, config.val_fraction, config.seed)
    stats = compute_stats(train_eps)
    policy = make_policy(policy_name, policy_config, dataset.spec, stats).to(device)
    if init_policy is not None:  # weights only: the statistics buffers stay those of this dataset
        keep = {k: v for k, v in init_policy.state_dict().items() if "normalizer" not in k}
        policy.load_state_dict(keep, strict=False)

    def windows(eps: list[Episode]) -> EpisodeDataset:
        weights = [np.asarray(sample_weights(e), np.float32) for e in eps] if sample_weights else None
        return EpisodeDataset(eps, n_obs=policy.n_obs, horizon=policy.horizon, weights=weights)

    train_data = windows(train_eps)
    val_data = windows(val_eps) if val_eps else None
    policy.fit_data(train_data.action)  # data-dependent set-up, e.g. quantile bin edges of the discrete head
    if device.type != "cpu":  # whole dataset on the accelerator: batches are gathered there
        for d in (train_data, val_data):
            if d is not None:
                d.to(device)

    # --- optimiser ------------------------------------------------------------------------------
    opt = torch.optim.AdamW(policy.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: _cosine_with_warmup(s, config.steps, min(config.warmup_steps, config.steps // 10 + 1)))
    writer = None
    if config.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(config.tensorboard)

    ckpt_extra = {
        "train": {**asdict(config), "threads": threads},  # the count used, so a run can be repeated exactly
        "dataset": {"path": str(dataset.path) if dataset.path else None, "task": dataset.meta.get("task"),
                    "episodes": len(dataset), "train_episodes": len(train_eps), "val_episodes": len(val_eps),
                    "episode_seeds": sorted({int(e.info["seed"]) for e in dataset.episodes if "seed" in e.info})},
        **(extra or {}),
    }
    gen = torch.Generator(device="cpu").manual_seed(config.seed)
    best_val, best_step, best_state = math.inf, -1, None
    history: list[dict[str, float]] = []
    pbar = bar(progress, f"train {policy_name}", config.steps, unit="step")
    start = time.perf_counter()
    reported = 0  # steps already shown on the progress bar
    n_train = len(train_data)
    policy.train()
    try:
        for step in range(config.steps):
            # --- forward / loss / step ----------------------------------------------------------
            idx = torch.randint(n_train, (config.batch_size,), generator=gen)
            batch = train_data.batch(idx.to(train_data.action.device))
            loss, metrics = policy.compute_loss(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(policy.parameters(), config.grad_clip)
            opt.step()
            sched.step()
            policy.after_optimizer_step()  # e.g. an EMA of the weights (diffusion, flow)

            # --- validation and best checkpoint -------------------------------------------------
            last = step + 1 == config.steps
            if (step + 1) % config.eval_every == 0 or last:
                train_loss = float(loss.detach())
                val = _validate(policy, val_data, config.batch_size, device) if val_data else train_loss
                history.append({"step": step + 1, "train_loss": train_loss, "val_loss": val,
                                "lr": sched.get_last_lr()[0]})
                if writer is not None:
                    writer.add_scalar("loss/train", train_loss, step + 1)
                    writer.add_scalar("loss/val", val, step + 1)
                    writer.add_scalar("lr", sched.get_last_lr()[0], step + 1)
                if val < best_val:
                    best_val, best_step = val, step + 1
                    best_state = copy.deepcopy(policy.state_dict())
                    if out is not None:
                        policy.eval()
                        save_checkpoint(policy, out, {**ckpt_extra, "best_val_loss": best_val, "best_step": best_step})
                        policy.train()
            if (step + 1) % 50 == 0 or last:
                elapsed = time.perf_counter() - start
                pbar.update(step + 1 - reported, loss=float(loss.detach()), val=best_val,
                            samples_per_s=(step + 1) * config.batch_size / max(elapsed, 1e-9))
                reported = step + 1
    finally:
        pbar.close()
        if writer is not None:
            writer.close()
    wall = time.perf_counter() - start
    if best_state is not None:
        policy.load_state_dict(best_state)
    policy.eval()
    return TrainResult(policy=policy, best_val_loss=best_val, best_step=best_step, history=history,
                       samples_per_second=config.steps * config.batch_size / max(wall, 1e-9), wall_seconds=wall)
