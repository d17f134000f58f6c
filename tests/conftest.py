import functools
import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")


def pytest_configure(config):
    """The library ignores OMP_NUM_THREADS (it sets torch's thread count itself); the test run takes it as
    its explicit choice, so `OMP_NUM_THREADS=1 pytest` trains every in-process policy with one thread."""
    from protege.runtime import set_threads

    set_threads(int(os.environ["OMP_NUM_THREADS"] or 0))


@pytest.fixture
def make_episode():
    """Build a small valid Episode; keyword overrides replace fields."""
    from protege.data import Episode

    def _make(T: int = 10, obs_dim: int = 3, act_dim: int = 2, seed: int = 0, **kw):
        rng = np.random.default_rng(seed)
        fields = dict(observations={"state": rng.normal(size=(T, obs_dim)).astype(np.float32)},
                      actions=rng.uniform(-1, 1, size=(T, act_dim)).astype(np.float32),
                      rewards=rng.normal(size=T).astype(np.float32), success=True, info={"seed": seed})
        fields.update(kw)
        return Episode(**fields)

    return _make


@pytest.fixture(scope="session")
def protege_cmd():
    """The `protege` executable of this environment."""
    exe = Path(sys.executable).parent / "protege"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "protege.cli"]


_GL_PROBE = """
from protege.evaluation.video import choose_gl_backend, rendering_error
choose_gl_backend()
try:
    import mujoco  # loads the GL library MUJOCO_GL names

    model = mujoco.MjModel.from_xml_string("<mujoco><worldbody><geom size='.1'/></worldbody></mujoco>")
    renderer = mujoco.Renderer(model, 16, 16)
    renderer.update_scene(mujoco.MjData(model))
    renderer.render()
    renderer.close()
except Exception as e:
    print(rendering_error("no off-screen GL context", e))
    raise SystemExit(1)
"""


@functools.lru_cache(maxsize=None)
def gl_unavailable_reason() -> str | None:
    """None when MuJoCo can create an off-screen GL context here, with the backend protege picks; else the
    one-line reason the tests that render skip. It renders one frame, so a library that loads but cannot
    make a context (EGL without a GPU) counts as unavailable; in a child process, so a GL driver that
    crashes instead of raising cannot take the test run with it."""
    import subprocess

    from protege.evaluation.video import choose_gl_backend

    choose_gl_backend()  # the child inherits the choice through MUJOCO_GL
    r = subprocess.run([sys.executable, "-c", _GL_PROBE], capture_output=True, text=True, timeout=300)
    if r.returncode == 0:
        return None
    lines = (r.stdout.strip() or r.stderr.strip()).splitlines()
    return lines[-1] if lines else f"no off-screen GL context (the probe exited with {r.returncode})"


@pytest.fixture
def needs_gl():
    """Skip (with the one-line reason) unless off-screen rendering works on this machine."""
    reason = gl_unavailable_reason()
    if reason:
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _keep_the_thread_count():
    """`set_threads` remembers an explicit count for the process (that is what `--threads` relies on), so a
    test that sets one would change how every later test trains: put the remembered count back after each."""
    runtime, torch = sys.modules.get("protege.runtime"), sys.modules.get("torch")
    chosen = getattr(runtime, "_chosen", None)
    threads = torch.get_num_threads() if torch is not None else None
    yield
    runtime, torch = sys.modules.get("protege.runtime"), sys.modules.get("torch")
    if runtime is not None:
        runtime._chosen = chosen
    if threads is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
