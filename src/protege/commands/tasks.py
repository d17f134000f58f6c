"""List the registered tasks."""

from __future__ import annotations

from dataclasses import dataclass

from protege.commands._common import say
from protege.envs import get_task, list_tasks


@dataclass
class Args:
    details: bool = False
    """Also print each task's horizon, control rate and spec (imports the simulators)."""


def run(args: Args) -> int:
    for name in list_tasks():
        if args.details:
            t = get_task(name)
            say(f"{name:40s} horizon {t.horizon:4d}  {t.fps:g} Hz  {t.spec.describe()}")
        else:
            say(name)
    return 0
