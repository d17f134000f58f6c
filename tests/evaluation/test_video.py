import numpy as np
import pytest

from protege.envs import ExpertFactory, get_task
from protege.evaluation.evaluate import render_video
from protege.evaluation.video import choose_gl_backend, read_video, write_video


def _gl_available() -> bool:
    choose_gl_backend()
    try:
        env = get_task("metaworld/reach").make_env(render_mode="rgb_array")
        env.reset(seed=0)
        frame = env.render()
        env.close()
        return frame is not None
    except Exception:
        return False


def test_write_video_round_trip(tmp_path):
    frames = [np.full((32, 48, 3), i * 20, np.uint8) for i in range(10)]
    path = write_video(tmp_path / "v.mp4", frames, fps=10)
    back = read_video(path)
    assert len(back) == 10 and back[0].shape == (32, 48, 3)
    assert abs(float(back[5].mean()) - 100) < 10


@pytest.mark.skipif(not _gl_available(), reason="no off-screen GL backend (install libosmesa6: make system-deps)")
def test_rollout_video_shows_the_arm(tmp_path):
    task = get_task("metaworld/reach")
    path = render_video(task, ExpertFactory(task.name), [1_000_000], tmp_path / "reach.mp4")
    frames = read_video(path)
    assert len(frames) > 5
    assert frames[0].std() > 10  # a rendered scene, not a blank frame
    assert not np.array_equal(frames[0], frames[-1])  # the arm moved
