"""Helpers shared by the DAgger-family benchmarks (dagger_vs_bc, compounding_error, gates)."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks"
RUNS = ROOT / "runs" / "bench"


def setup() -> None:
    """One thread: the benchmark machine is a shared 2-core CPU."""
    import torch

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)


def machine() -> dict[str, Any]:
    import torch

    return {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def write(name: str, data: dict[str, Any], markdown: str) -> None:
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / f"{name}.json").write_text(json.dumps({"machine": machine(), **data}, indent=2) + "\n")
    (DOCS / f"{name}.md").write_text(markdown)
    print(markdown)


def first_round_reaching(records: list[dict[str, Any]], rate: float) -> dict[str, Any] | None:
    """The first round whose evaluated success rate is >= rate (None if none did)."""
    return next((r for r in records if r["success_rate"] >= rate), None)
