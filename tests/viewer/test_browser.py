"""The page in a real headless browser (Chromium from the system packages; `make system-deps` installs it).

One Chromium per module, driven over its DevTools protocol on a pipe; the page records what it did in
data attributes (the step shown, the frames drawn, the plots drawn), which the tests wait for and read. Skipped, with the reason, when no Chromium binary is found.
Set PROTEGE_VIEWER_SCREENSHOTS=DIR to keep the screenshots (the README's come from here).
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
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


class Browser:
    """Headless Chromium driven over its DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON
    messages ending in NUL on file descriptors 3 and 4), so a test can wait until the page says it is
    ready instead of guessing a time budget. Standard library only."""

    def __init__(self, size=(1300, 1000)):
        self.profile = tempfile.mkdtemp(prefix="pv-")  # short: Chromium's singleton socket lives there
        cmd_r, self.cmd_w = os.pipe()
        self.resp_r, resp_w = os.pipe()

        def fds():  # the child reads commands on fd 3 and writes answers on fd 4
            os.dup2(cmd_r, 3)
            os.dup2(resp_w, 4)

        cmd = [BROWSER, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--mute-audio",
               f"--user-data-dir={self.profile}", f"--window-size={size[0]},{size[1]}", "--remote-debugging-pipe",
               "about:blank"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        # pass_fds keeps 3 and 4 open through the close that follows preexec_fn
        self.proc = subprocess.Popen(cmd, preexec_fn=fds, pass_fds=(3, 4), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(resp_w)
        self.buf, self.next_id = b"", 0
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def call(self, method, session=None, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params, **({"sessionId": session} if session else {})}
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self.buf:
                chunk = os.read(self.resp_r, 1 << 20)
                assert chunk, "Chromium closed its DevTools pipe"
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                assert "error" not in reply, reply["error"]
                return reply["result"]

    def js(self, expr):
        r = self.call("Runtime.evaluate", self.session, expression=expr, returnByValue=True)
        return r["result"].get("value")

    def open(self, url, ready, timeout=30.0):
        """Navigate and wait until the JavaScript expression `ready` is true."""
        self.call("Page.navigate", self.session, url=url)
        deadline = time.monotonic() + timeout
        while not self.js(ready):
            assert time.monotonic() < deadline, f"page not ready after {timeout} s: {ready}"
            time.sleep(0.05)

    def screenshot(self, path: Path, name: str) -> Path:
        data = self.call("Page.captureScreenshot", self.session, format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        keep = os.environ.get("PROTEGE_VIEWER_SCREENSHOTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(keep) / f"viewer_{name}.png")
        return path

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        os.close(self.cmd_w)
        os.close(self.resp_r)
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.close()


def _pixels(shot: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(shot).convert("RGB"))


PLAYER = "document.querySelector('#player')"


def test_episode_list_shows_every_episode(tmp_path, camera_dataset, browser):
    with ViewerServer(camera_dataset, port=0) as server:
        browser.open(server.url + "#view=", "!!document.querySelector('#episodes tbody')")
        rows = browser.js("[...document.querySelectorAll('#episodes tr[data-i]')].map(r => r.dataset.i)")
        shown = browser.js("document.querySelector('.filters .muted').textContent")
        browser.screenshot(tmp_path / "list.png", "episodes")
    assert rows == ["0", "1", "2"] and shown == "3 of 3 episodes"


def test_episode_page_plays_its_frames_and_draws_its_plots(tmp_path, camera_dataset, browser):
    with ViewerServer(camera_dataset, port=0) as server:
        # it plays: the step moves on from 0 by itself, frames drawn as it goes
        browser.open(server.url + "#episode=&i=1&play=1", f"{PLAYER} && {PLAYER}.dataset.ready === '1' && "
                     f"+{PLAYER}.dataset.t >= 5 && +{PLAYER}.dataset.framesDrawn >= 5")
        plots = browser.js("+document.querySelector('#plots').dataset.plots")
        shot = browser.screenshot(tmp_path / "episode.png", "episode")
    assert plots == 6
    px = _pixels(shot)
    # the camera frame is on screen (the recorded square's exact colour: frames are drawn unsmoothed),
    # and the page is not blank: plots, shading, text
    assert (np.all(px == (250, 200, 30), axis=-1)).sum() > 500
    packed = (px[..., 0].astype(np.uint32) << 16) | (px[..., 1].astype(np.uint32) << 8) | px[..., 2]
    assert len(np.unique(packed)) > 200


def test_static_file_works_offline(tmp_path, camera_dataset, browser):
    out = write_static(camera_dataset, tmp_path / "view.html", max_episodes=3, max_frames=30)
    browser.open(out.as_uri() + "#episode=&i=2", f"{PLAYER} && {PLAYER}.dataset.ready === '1'")
    assert browser.js("+document.querySelector('#plots').dataset.plots") == 6
    assert browser.js(f"+{PLAYER}.dataset.framesDrawn") >= 1
    assert browser.js("document.querySelectorAll('.error').length") == 0


def _pixels_near(canvas_js, rgb, tol=40):
    """JavaScript: how many pixels of a canvas are within `tol` of colour `rgb` in each channel."""
    r, g, b = rgb
    return (f"(() => {{ const c = {canvas_js}; const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            f" let n = 0; for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - {r}) < {tol} && "
            f"Math.abs(d[i + 1] - {g}) < {tol} && Math.abs(d[i + 2] - {b}) < {tol}) n++; return n; }})()")


def test_checkpoint_page_plots_its_training_history(tmp_path, trained, browser):
    ck, res = trained
    with ViewerServer(ck, port=0) as server:
        browser.open(server.url + "#view=", "document.querySelector('#main').dataset.rendered === '1'")
        points = browser.js("+document.querySelector('#history').dataset.points")
        plots = browser.js("document.querySelectorAll('#history canvas').length")
        loss = "document.querySelector('#history canvas')"
        train_px = browser.js(_pixels_near(loss, (0x2d, 0x6c, 0xdf)))  # the train loss line's colour
        val_px = browser.js(_pixels_near(loss, (0xd3, 0x54, 0x00)))  # the validation loss line's colour
        browser.screenshot(tmp_path / "checkpoint.png", "checkpoint")
    assert points == len(res.history) == 6
    assert plots == 3  # loss, learning rate, samples per second
    assert train_px > 100 and val_px > 100


def test_evaluation_page_plays_every_rollout_failures_first(tmp_path, evaluated, browser):
    from protege.envs import get_task

    folder, result = evaluated
    fps = get_task("bimodal").fps
    tiles = "[...document.querySelectorAll('#rollouts video')]"
    with ViewerServer(folder, port=0) as server:
        browser.open(server.url + "#view=eval.json", f"{tiles}.length === 6 && {tiles}.every(v => v.readyState >= 1)")
        order = browser.js("[...document.querySelectorAll('#rollouts figure')].map(f => [+f.dataset.episode, f.dataset.success === '1'])")
        width = browser.js(f"{tiles}[0].videoWidth")
        frames = browser.js(f"{tiles}.map(v => Math.round(v.duration * {fps}))")
        browser.js(f"{tiles}[0].play(); 1")  # muted: allowed to play without a gesture
        deadline = time.monotonic() + 20
        while not browser.js(f"{tiles}[0].currentTime > 0.3"):
            assert time.monotonic() < deadline, "the first rollout's video did not play"
            time.sleep(0.05)
        browser.screenshot(tmp_path / "eval.png", "eval")
    expected = sorted(((i, r.success) for i, r in enumerate(result.results)), key=lambda t: (t[1], t[0]))
    assert order == [list(t) for t in expected] and not order[0][1]  # failures first, then in episode order
    assert width == 160  # decoded: the bimodal task's 160 x 160 top view
    by_episode = dict(zip([e for e, _ in order], frames))
    assert all(abs(by_episode[i] - (r.length + 1)) <= 1 for i, r in enumerate(result.results))


def test_dart_page_lists_its_rounds(tmp_path, dart_run, browser):
    folder, result = dart_run
    with ViewerServer(folder, port=0) as server:
        browser.open(server.url + "#view=", "document.querySelector('#main').dataset.rendered === '1'")
        rows = browser.js("[...document.querySelectorAll('#rounds tbody tr')].map(r => r.cells[3].textContent)")
        links = browser.js("document.querySelectorAll('#main li a').length")
    assert rows == [f"{r.noise:.3f}" for r in result.rounds] and links == 4
