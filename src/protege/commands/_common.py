"""Helpers shared by the verbs: printing, JSON output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def say(msg: str = "") -> None:
    print(msg, file=sys.stdout, flush=True)


def write_json_file(path: str | Path, obj: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")
