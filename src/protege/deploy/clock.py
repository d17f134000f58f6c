"""Fixed-rate pacing: absolute deadlines, so one late step does not shift every later one.

`Rate(hz).wait()` sleeps until the next tick of a fixed grid (t0 + k / hz) and reports how late the
tick actually started. If a step overran by more than a whole period, the grid skips ahead instead of
bursting several steps back to back to "catch up" (a robot must not receive a burst of commands).
"""

from __future__ import annotations

import time


class Rate:
    """Ticks at `hz` on the monotonic clock; `hz <= 0` never sleeps (as fast as possible)."""

    def __init__(self, hz: float, clock=time.perf_counter, sleep=time.sleep):
        self.period = 1.0 / hz if hz > 0 else 0.0
        self._clock, self._sleep = clock, sleep
        self.next_tick: float | None = None
        self.skipped = 0

    def start(self) -> float:
        """Start the grid now; returns the first tick time (seconds)."""
        self.next_tick = self._clock()
        return self.next_tick

    def wait(self) -> tuple[float, float]:
        """Sleep until the next tick; returns (scheduled tick time, actual wake-up time) in seconds."""
        if self.next_tick is None:
            self.start()
        assert self.next_tick is not None
        self.next_tick += self.period
        now = self._clock()
        if now > self.next_tick + self.period:  # overran by more than a period: drop the missed ticks
            missed = int((now - self.next_tick) / self.period) if self.period > 0 else 0
            self.skipped += missed
            self.next_tick += missed * self.period
        remaining = self.next_tick - now
        if remaining > 0:
            self._sleep(remaining)
        return self.next_tick, self._clock()
