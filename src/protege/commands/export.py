"""Export a checkpoint to ONNX or TorchScript (normalisation inside) and check parity with PyTorch; a
task- or instruction-conditioned checkpoint exports with its vocabulary and is checked on every task."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from protege.checkpoint import load_checkpoint
from protege.commands._common import say, write_json_file
from protege.errors import ProtegeError


@dataclass
class Args:
    checkpoint: Path
    """Checkpoint folder to export."""
    out: Path
    """File to write (.onnx for ONNX, .pt for TorchScript)."""
    format: Literal["onnx", "torchscript"] = "onnx"
    """Export format."""
    parity_samples: int = 16
    """Random observations (around the training statistics) run through both PyTorch and the export."""
    tolerance: float = 1e-5
    """Fail (exit 1) when the largest absolute action difference exceeds this."""
    seed: int = 0
    """Seed for the parity observations and noise."""
    json: Path | None = None
    """Write the export report here as JSON."""


def run(args: Args) -> int:
    from protege.deploy.export import export_policy

    if args.parity_samples < 1:
        raise ProtegeError(f"--parity-samples: expected >= 1, found {args.parity_samples}")
    if not args.tolerance >= 0:  # also refuses nan
        raise ProtegeError(f"--tolerance: expected >= 0, found {args.tolerance}")
    if args.seed < 0:
        raise ProtegeError(f"--seed: expected >= 0, found {args.seed}")
    policy = load_checkpoint(args.checkpoint)
    report = export_policy(policy, args.out, args.format, args.parity_samples, args.seed)
    noise = f", noise inputs {report.noise_normal} normal + {report.noise_uniform} uniform" \
        if report.noise_normal or report.noise_uniform else ""
    say(f"exported {report.policy} ({args.format}, chunk {report.horizon}, history {report.n_obs}{noise}) to "
        f"{report.path} ({report.size_bytes / 1e6:.2f} MB)")
    ok = report.max_abs_diff <= args.tolerance
    if report.condition is not None:
        worst = max(report.per_task_max_abs_diff.items(), key=lambda kv: kv[1])
        say(f"conditioned on {report.condition} (input obs.condition) over {len(report.per_task_max_abs_diff)} "
            f"tasks: {', '.join(report.per_task_max_abs_diff)}; each checked on every observation "
            f"(largest difference on {worst[0]}: {worst[1]:.3g})")
    say(f"parity vs PyTorch on {report.parity_samples} observations: max |diff| = {report.max_abs_diff:.3g} "
        f"({'within' if ok else 'ABOVE'} tolerance {args.tolerance:g})")
    if args.json is not None:
        write_json_file(args.json, {**report.to_dict(), "tolerance": args.tolerance, "within_tolerance": ok})
    return 0 if ok else 1
