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


def write_outputs(name: str, data: dict[str, Any], markdown: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps({"machine": machine(), **data}, indent=2) + "\n")
    (OUT / f"{name}.md").write_text(markdown)
    print(markdown)
