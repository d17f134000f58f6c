"""Fault injection for the executors' tests and the fault benchmark: kill the worker running an episode.

`KillOnce` wraps any `EpisodeJob`: the first time any worker reaches the victim seed (a marker file in a
folder every worker sees, so only once across workers and reruns) it ends its own process at once, as
`kill -9` would (no cleanup, no exception, no result). Every finished run of an episode appends its seed to
`<folder>/finished`, so a caller can check each episode finished exactly once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protege.distributed.executor import EpisodeJob, new_job_key


@dataclass
class KillOnce:
    job: EpisodeJob
    """The job whose worker is killed once."""
    victim: int
    """The episode seed at whose start (first attempt only) the worker process dies."""
    folder: str
    """A folder shared by every worker (marker file and the log of finished episodes)."""
    after_steps: int = 0
    """Unused by the wrapper itself; kept so a report can say how far the killed episode had got (0 = at its start)."""
    key: str = field(default_factory=new_job_key)

    def setup(self) -> Any:
        return self.job.setup()

    def run(self, state: Any, seed: int) -> Any:
        marker = Path(self.folder) / f"killed-{self.victim}"
        if seed == self.victim:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # exactly one worker wins
            except FileExistsError:
                fd = None
            if fd is not None:
                os.close(fd)
                os._exit(9)
        result = self.job.run(state, seed)
        with open(Path(self.folder) / "finished", "a") as f:
            f.write(f"{seed}\n")
        return result

    def teardown(self, state: Any) -> None:
        self.job.teardown(state)


def finished_seeds(folder: str | Path) -> list[int]:
    """Seeds whose episode finished, one entry per finished run (a seed listed twice ran twice)."""
    path = Path(folder) / "finished"
    return [int(x) for x in path.read_text().split()] if path.exists() else []
