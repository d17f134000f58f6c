"""Helpers shared by the DAgger-family benchmarks (dagger_vs_bc, compounding_error, gates)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import OUT as DOCS  # noqa: E402
from _common import ROOT, write_outputs  # noqa: E402

RUNS = ROOT / "runs" / "bench"


def setup() -> None:
    """One thread: the benchmark machine is a shared 2-core CPU."""
    import torch

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)


def write(name: str, data: dict[str, Any], markdown: str) -> None:
    write_outputs(name, data, markdown)


def first_round_reaching(records: list[dict[str, Any]], rate: float) -> dict[str, Any] | None:
    """The first round whose evaluated success rate is >= rate (None if none did)."""
    return next((r for r in records if r["success_rate"] >= rate), None)
