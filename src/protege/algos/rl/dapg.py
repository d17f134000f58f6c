"""DAPG: behavioural cloning of a Gaussian policy on the demonstrations (maximum likelihood through
`train_bc`), then the RL loop with the demonstration term (`loop.train_rl`). The BC stage is skipped when
the run folder already holds it, so a DAPG run resumes wherever it stopped."""

from __future__ import annotations

import time
from pathlib import Path

from protege.algos.bc import TrainConfig, train_bc
from protege.algos.rl.loop import RLConfig, RLResult, train_rl
from protege.checkpoint import load_checkpoint
from protege.data.native import Dataset
from protege.envs.task import Task
from protege.errors import bad_input
from protege.policies import GaussianConfig
from protege.policies.gaussian import GaussianPolicy
from protege.progress import Progress
from protege.specs import check_compatible


def run_dapg(task: Task, demos: Dataset, config: RLConfig, out: str | Path,
             policy_config: GaussianConfig | None = None, bc_config: TrainConfig | None = None,
             progress: Progress | None = None) -> tuple[RLResult, Path]:
    """BC pre-training of a Gaussian policy on `demos` (to `out/bc`, skipped if already there), then DAPG."""
    run = Path(out)
    check_compatible(demos.spec, task.spec, f"demonstrations {demos.path}", task.name)
    bc_dir = bc_stage(demos, run, policy_config, bc_config or TrainConfig(steps=2000, seed=config.seed), progress)
    policy = load_checkpoint(bc_dir)
    if not isinstance(policy, GaussianPolicy):
        raise bad_input(bc_dir / "config.json", "policy", "'gaussian'", repr(policy.name))
    result = train_rl(task, policy, config, run, demos=demos, progress=progress,
                      ckpt_extra={"bc_checkpoint": str(bc_dir), "demos": str(demos.path), "demo_episodes": len(demos)})
    return result, bc_dir


def bc_stage(demos: Dataset, out: str | Path, policy_config: GaussianConfig | None = None,
             bc_config: TrainConfig | None = None, progress: Progress | None = None) -> Path:
    """DAPG's BC stage alone: a Gaussian policy cloned from `demos` into `out/bc` (the "BC alone" policy of
    DAPG's table), unless `out/bc` already holds a finished one. Returns `out/bc`."""
    bc_dir = Path(out) / "bc"
    if not (bc_dir / "done").exists():  # the marker is written only once BC has finished
        start = time.perf_counter()
        train_bc(demos, "gaussian", policy_config, bc_config or TrainConfig(steps=2000), out=bc_dir, progress=progress)
        (bc_dir / "done").write_text(f"BC finished in {time.perf_counter() - start:.1f} s\n")
    return bc_dir


def bc_wall_seconds(bc_dir: str | Path) -> float | None:
    """Wall time of a finished BC stage, as its marker recorded it (None for a marker without it)."""
    words = (Path(bc_dir) / "done").read_text().split()
    return float(words[3]) if len(words) >= 5 and words[:3] == ["BC", "finished", "in"] else None
