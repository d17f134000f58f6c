"""Shared helpers for benchmark scripts: output folder, JSON + markdown writing, machine description."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks"

# Benchmarks are timed one thread per job (`OMP_NUM_THREADS=1`, as `make bench` runs them) so two jobs on a
# 2-core machine do not oversubscribe it. protege otherwise chooses torch's thread count itself and ignores
# OMP_NUM_THREADS, so pass the benchmark's choice on explicitly; training runs then keep it.
from protege.runtime import set_threads  # noqa: E402

set_threads(int(os.environ.get("OMP_NUM_THREADS") or 0) or None)


def machine() -> dict[str, Any]:
    import torch

    return {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def pooled_rate(successes: int, episodes: int) -> str:
    """Successes pooled over runs (seeds) as `protege eval` prints a rate: "84% [71, 92]" (95% Wilson)."""
    from protege.evaluation.metrics import wilson_interval

    low, high = wilson_interval(successes, episodes)
    return f"{100 * successes / episodes:.0f}% [{100 * low:.0f}, {100 * high:.0f}]"


def write_outputs(name: str, data: dict[str, Any], markdown: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps({"machine": machine(), **data}, indent=2) + "\n")
    (OUT / f"{name}.md").write_text(markdown)
    print(markdown)


def bare_loop_samples_per_second(policy, batches: list, config) -> float:
    """The reference every training-speed ratio is against: AdamW + warm-up/cosine + clipping over
    pre-built `batches`, nothing else (no data path, no validation, no checkpoints). Samples/s."""
    import torch

    from protege.algos.bc import _cosine_with_warmup

    steps = len(batches)
    # foreach, as train_bc's optimiser
    opt = torch.optim.AdamW(policy.parameters(), lr=config.lr, weight_decay=config.weight_decay, foreach=True)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _cosine_with_warmup(s, steps, config.warmup_steps))
    policy.train()
    start = time.perf_counter()
    for batch in batches:
        loss, _ = policy.compute_loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), config.grad_clip)
        opt.step()
        sched.step()
    return steps * batches[0].action.shape[0] / (time.perf_counter() - start)
