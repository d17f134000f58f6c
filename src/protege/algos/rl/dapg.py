"""DAPG: behavioural cloning of a Gaussian policy on the demonstrations (maximum likelihood through
`train_bc`), then the RL loop with the demonstration term (`loop.train_rl`). The BC stage is skipped when
the run folder already holds it, so a DAPG run resumes wherever it stopped.

The BC stage's exploration noise (`bc_std`): maximum likelihood fits the state-independent log std to the
BC residuals, which on a well-fitted mean is small (door from 25 human demonstrations: about 0.1 of the
action range), and NPG starts exploring from there. DAPG's authors (hand_dapg + mjrl) instead set the std
to the demonstrations' own per-dimension action std after BC; `bc_std="demos"` does that. The mean, and so
BC alone executed with its mean, is the same either way."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from protege.algos.bc import TrainConfig, train_bc
from protege.algos.rl.loop import RLConfig, RLResult, train_rl
from protege.checkpoint import load_checkpoint, read_checkpoint_config, save_checkpoint
from protege.data.native import Dataset
from protege.envs.task import Task
from protege.errors import bad_input
from protege.policies import GaussianConfig
from protege.policies.gaussian import GaussianPolicy
from protege.progress import Progress
from protege.specs import check_compatible

BC_STDS = ("likelihood", "demos")
"""Where the BC policy's std comes from: "likelihood" (fitted with the mean by maximum likelihood) or
"demos" (the demonstrations' per-dimension action std, in normalised action units, as hand_dapg does)."""


def run_dapg(task: Task, demos: Dataset, config: RLConfig, out: str | Path,
             policy_config: GaussianConfig | None = None, bc_config: TrainConfig | None = None,
             progress: Progress | None = None, bc_std: str = "likelihood") -> tuple[RLResult, Path]:
    """BC pre-training of a Gaussian policy on `demos` (to `out/bc`, skipped if already there), then DAPG.
    bc_std: the std NPG starts exploring with (`BC_STDS`)."""
    run = Path(out)
    check_compatible(demos.spec, task.spec, f"demonstrations {demos.path}", task.name)
    bc_dir = bc_stage(demos, run, policy_config, bc_config or TrainConfig(steps=2000, seed=config.seed), progress,
                      bc_std=bc_std)
    policy = load_checkpoint(bc_dir)
    if not isinstance(policy, GaussianPolicy):
        raise bad_input(bc_dir / "config.json", "policy", "'gaussian'", repr(policy.name))
    result = train_rl(task, policy, config, run, demos=demos, progress=progress,
                      ckpt_extra={"bc_checkpoint": str(bc_dir), "demos": str(demos.path), "demo_episodes": len(demos)})
    return result, bc_dir


def bc_stage(demos: Dataset, out: str | Path, policy_config: GaussianConfig | None = None,
             bc_config: TrainConfig | None = None, progress: Progress | None = None,
             bc_std: str = "likelihood") -> Path:
    """DAPG's BC stage alone: a Gaussian policy cloned from `demos` into `out/bc` (the "BC alone" policy of
    DAPG's table), unless `out/bc` already holds a finished one made with the same `bc_std`. Returns `out/bc`."""
    if bc_std not in BC_STDS:
        raise bad_input("dapg", "bc_std", f"one of {list(BC_STDS)}", repr(bc_std))
    bc_dir = Path(out) / "bc"
    marker = bc_dir / "done"
    if marker.exists():  # the marker is written only once BC has finished
        found = _marker_std(marker)
        if found != bc_std:
            raise bad_input(marker, "bc_std", f"'{bc_std}' to reuse this BC stage (or a new run folder)", repr(found))
        return bc_dir
    start = time.perf_counter()
    train_bc(demos, "gaussian", policy_config, bc_config or TrainConfig(steps=2000), out=bc_dir, progress=progress)
    if bc_std == "demos":
        set_std_from_demos(bc_dir, demos)
    marker.write_text(f"BC finished in {time.perf_counter() - start:.1f} s; std {bc_std}\n")
    return bc_dir


def demo_action_log_std(policy: GaussianPolicy, demos: Dataset) -> torch.Tensor:
    """(A,) log of the per-dimension std of the demonstrations' actions in `policy`'s normalised action
    units, floored at the policy's `min_log_std` (a dimension the demonstrator never moved explores there)."""
    actions = torch.from_numpy(np.concatenate([e.actions for e in demos.episodes]).astype(np.float32))
    with torch.no_grad():
        std = policy.action_normalizer(actions).std(0)
    return torch.log(std.clamp(min=1e-12)).clamp(min=policy.config.min_log_std)


def set_std_from_demos(bc_dir: str | Path, demos: Dataset) -> torch.Tensor:
    """Rewrite the BC checkpoint at `bc_dir` with its log std set to `demo_action_log_std` (its mean and
    everything else kept); the checkpoint's config records it under `bc_std`. Returns the log std."""
    policy = load_checkpoint(bc_dir)
    if not isinstance(policy, GaussianPolicy):
        raise bad_input(Path(bc_dir) / "config.json", "policy", "'gaussian'", repr(policy.name))
    log_std = demo_action_log_std(policy, demos)
    with torch.no_grad():
        policy.log_std.copy_(log_std)
    cfg = read_checkpoint_config(bc_dir)
    rebuilt = {"format", "format_version", "protege_version", "policy", "policy_config", "spec", "stats", "encoder",
               "conditioning"}  # what save_checkpoint writes from the policy itself
    extra = {k: v for k, v in cfg.items() if k not in rebuilt}
    extra["bc_std"] = {"source": "demos", "log_std": [round(float(v), 6) for v in log_std]}
    save_checkpoint(policy, bc_dir, extra)
    return log_std


def _marker_std(marker: Path) -> str:
    """The bc_std a finished BC stage was made with (markers from before the option: "likelihood")."""
    text = marker.read_text()
    return text.split("; std ", 1)[1].split()[0] if "; std " in text else "likelihood"


def bc_wall_seconds(bc_dir: str | Path) -> float | None:
    """Wall time of a finished BC stage, as its marker recorded it (None for a marker without it)."""
    words = (Path(bc_dir) / "done").read_text().split()
    return float(words[3]) if len(words) >= 5 and words[:3] == ["BC", "finished", "in"] else None
