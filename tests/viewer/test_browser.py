"""The page in a real headless browser (Chromium from the system packages; `make system-deps` installs it).

Chromium runs the page's JavaScript for a few seconds of virtual time and prints the resulting DOM
(`--dump-dom`) and a screenshot; the page records what it did in data attributes (the step shown, the
frames drawn, the plots drawn). Skipped, with the reason, when no Chromium binary is found.
Set PROTEGE_VIEWER_SCREENSHOTS=DIR to keep the screenshots (the README's come from here).
"""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from protege.viewer import ViewerServer, write_static

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell")


def find_browser() -> str | None:
    chosen = os.environ.get("PROTEGE_CHROMIUM")
    if chosen:
        return shutil.which(chosen) or (chosen if os.path.exists(chosen) else None)
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


BROWSER = find_browser()
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium found (install it: `make system-deps` as root, "
                                                        "or `sudo apt-get install chromium`)")


def browse(url: str, tmp_path: Path, name: str, budget_ms: int = 2500, size=(1300, 1000)) -> tuple[str, Path]:
    """(the DOM after `budget_ms` of virtual time, the screenshot)."""
    shot = tmp_path / f"{name}.png"
    # a short profile path: Chromium's singleton socket lives there, and a long path costs seconds
    profile = tempfile.mkdtemp(prefix="pv-")
    cmd = [BROWSER, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--mute-audio",
           f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
           f"--virtual-time-budget={budget_ms}", f"--screenshot={shot}", "--dump-dom", url]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    keep = os.environ.get("PROTEGE_VIEWER_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / f"viewer_{name}.png")
    return r.stdout, shot


def _pixels(shot: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(shot).convert("RGB"))


def test_episode_list_shows_every_episode(tmp_path, camera_dataset):
    with ViewerServer(camera_dataset, port=0) as server:
        dom, shot = browse(server.url + "#view=", tmp_path, "episodes", budget_ms=1500, size=(1300, 640))
    rows = re.findall(r'<tr class="link" data-i="(\d+)"', dom)
    assert rows == ["0", "1", "2"]
    assert "3 of 3 episodes" in dom and 'id="kind">dataset<' in dom


def test_episode_page_plays_its_frames_and_draws_its_plots(tmp_path, camera_dataset):
    with ViewerServer(camera_dataset, port=0) as server:
        dom, shot = browse(server.url + "#episode=&i=1&play=1", tmp_path, "episode", budget_ms=1200)
    player = re.search(r'<div id="player"([^>]*)>', dom).group(1)
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', player))
    assert attrs["ready"] == "1" and attrs["playing"] in ("true", "false")
    assert int(attrs["t"]) > 0  # it played: the step moved on from 0
    assert int(attrs["frames-drawn"]) > 1
    assert re.search(r'id="plots" data-plots="6"', dom)
    px = _pixels(shot)
    # the camera frame is on screen (the recorded square's exact colour: frames are drawn unsmoothed),
    # and the page is not blank: plots, shading, text
    assert (np.all(px == (250, 200, 30), axis=-1)).sum() > 500
    packed = (px[..., 0].astype(np.uint32) << 16) | (px[..., 1].astype(np.uint32) << 8) | px[..., 2]
    assert len(np.unique(packed)) > 200


def test_static_file_works_offline(tmp_path, camera_dataset):
    out = write_static(camera_dataset, tmp_path / "view.html", max_episodes=3, max_frames=30)
    dom, _ = browse(out.as_uri() + "#episode=&i=2", tmp_path, "static", budget_ms=1500)
    assert re.search(r'id="plots" data-plots="6"', dom)
    assert int(re.search(r'data-frames-drawn="(\d+)"', dom).group(1)) >= 1
    assert "error" not in re.search(r'<main id="main"[^>]*>(.*)</main>', dom, re.S).group(1)[:2000].lower()
