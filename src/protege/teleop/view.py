"""Showing the simulation to the person: a live window when a display exists, off-screen otherwise.

`PygameWindow` draws frames in a window and is also the keyboard (true key-down/key-up from the window's
events). `OffscreenView` has no window: it writes the latest frame to a PNG (atomically, a few times a
second) that any image viewer can show, so a person on a headless robot computer with a remote
file view still sees the scene. `NullView` shows nothing (tests, scripted sessions).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Protocol

import numpy as np


class View(Protocol):
    def show(self, frame: np.ndarray, status: str = "") -> None:
        """Display an RGB frame (H, W, 3) uint8 with a one-line status."""

    def close(self) -> None: ...


class NullView:
    def show(self, frame: np.ndarray, status: str = "") -> None:
        pass

    def close(self) -> None:
        pass


class OffscreenView:
    """Writes the latest frame to `path` at most every `every_s` seconds (temporary file + rename)."""

    def __init__(self, path: str | Path, every_s: float = 0.25):
        self.path, self.every_s = Path(path), every_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._last = -1e9
        self.frames_written = 0

    def show(self, frame: np.ndarray, status: str = "") -> None:
        now = time.monotonic()
        if now - self._last < self.every_s:
            return
        import imageio.v2 as iio

        self._last = now
        tmp = self.path.with_name(f".{self.path.name}.tmp.png")
        iio.imwrite(tmp, np.asarray(frame, np.uint8))
        os.replace(tmp, self.path)
        self.frames_written += 1

    def close(self) -> None:
        pass


class PygameWindow:
    """A window showing frames (scaled to `size`), whose key events also make it a keyboard backend."""

    def __init__(self, title: str = "protege", size: int = 480):
        from protege.teleop.gamepad import require_pygame

        self._pg = pygame = require_pygame()
        pygame.init()
        self.size = size
        self._screen = pygame.display.set_mode((size, size))
        pygame.display.set_caption(title)
        self._font = pygame.font.Font(None, 22)
        self._held: set[str] = set()
        self._pressed: list[str] = []

    def _pump(self) -> None:
        pg = self._pg
        for ev in pg.event.get():
            if ev.type == pg.QUIT:
                self._pressed.append("q")
            elif ev.type in (pg.KEYDOWN, pg.KEYUP):
                name = pg.key.name(ev.key)
                if ev.type == pg.KEYDOWN:
                    self._held.add(name)
                    self._pressed.append(name)
                else:
                    self._held.discard(name)

    # --- View ---------------------------------------------------------------------------------
    def show(self, frame: np.ndarray, status: str = "") -> None:
        pg = self._pg
        surf = pg.surfarray.make_surface(np.ascontiguousarray(np.asarray(frame, np.uint8).swapaxes(0, 1)))
        self._screen.blit(pg.transform.scale(surf, (self.size, self.size)), (0, 0))
        if status:
            self._screen.blit(self._font.render(status, True, (255, 255, 0), (0, 0, 0)), (4, 4))
        pg.display.flip()
        self._pump()

    # --- KeyBackend ---------------------------------------------------------------------------
    def held(self) -> set[str]:
        return set(self._held)

    def pressed(self) -> list[str]:
        self._pump()
        out, self._pressed = self._pressed, []
        return out

    def close(self) -> None:
        self._pg.display.quit()


def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
