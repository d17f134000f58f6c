import os

import numpy as np
import pytest

from protege.envs import ExpertFactory, get_task
from protege.errors import ProtegeError
from protege.evaluation import video
from protege.evaluation.evaluate import render_video
from protege.evaluation.video import read_video, write_video


def test_write_video_round_trip(tmp_path):
    frames = [np.full((32, 48, 3), i * 20, np.uint8) for i in range(10)]
    path = write_video(tmp_path / "v.mp4", frames, fps=10)
    back = read_video(path)
    assert len(back) == 10 and back[0].shape == (32, 48, 3)
    assert abs(float(back[5].mean()) - 100) < 10


def test_rollout_video_shows_the_arm(tmp_path, needs_gl):
    task = get_task("metaworld/reach")
    path = render_video(task, ExpertFactory(task.name), [1_000_000], tmp_path / "reach.mp4")
    frames = read_video(path)
    assert len(frames) > 5
    assert frames[0].std() > 10  # a rendered scene, not a blank frame
    assert not np.array_equal(frames[0], frames[-1])  # the arm moved


@pytest.fixture
def no_gl_env(monkeypatch):
    """MUJOCO_GL and PYOPENGL_PLATFORM unset for the test, restored afterwards."""
    for name in ("MUJOCO_GL", "PYOPENGL_PLATFORM"):
        monkeypatch.setenv(name, "placeholder")  # so that delenv records the value to restore
        monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize(("gpu", "libs", "expected"), [
    (True, {"EGL", "OSMesa"}, "egl"),        # a GPU render node: hardware EGL
    (False, {"EGL", "OSMesa"}, "osmesa"),    # CPU only: OSMesa, even where EGL is installed
    (False, {"EGL"}, "egl"),                 # no OSMesa: Mesa's software EGL, never a library that is absent
    (False, set(), "disable"),               # nothing: MuJoCo still imports and simulates
])
def test_backend_follows_the_machine(no_gl_env, gpu, libs, expected):
    import ctypes.util

    no_gl_env.setattr(video, "_has_gpu_render_node", lambda: gpu)
    no_gl_env.setattr(ctypes.util, "find_library", lambda name: f"lib{name}.so" if name in libs else None)
    assert video.choose_gl_backend() == expected
    assert os.environ["MUJOCO_GL"] == expected
    assert os.environ.get("PYOPENGL_PLATFORM") == (expected if expected != "disable" else None)


def test_an_explicit_backend_is_kept(no_gl_env):
    no_gl_env.setenv("MUJOCO_GL", "glfw")
    assert video.choose_gl_backend() == "glfw"


def test_a_failed_render_is_one_line(tmp_path):
    class NoGL:
        name, fps = "no-gl", 10.0

        def make_env(self, render_mode=None):  # PyOpenGL without libOSMesa fails at the first import of mujoco
            raise AttributeError("'NoneType' object has no attribute 'glGetError'\n  (second line)")

    with pytest.raises(ProtegeError) as e:
        render_video(NoGL(), lambda: None, [0], tmp_path / "v.mp4")
    message = str(e.value)
    assert "\n" not in message and "glGetError" in message and "second line" not in message
    assert message.startswith(f"--video {tmp_path / 'v.mp4'}: expected off-screen rendering (MUJOCO_GL=")
    assert "libosmesa6" in message
