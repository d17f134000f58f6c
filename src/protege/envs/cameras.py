"""Camera observations for MuJoCo tasks: `with_cameras(task, cameras, image_size)` -> a task whose env
adds one uint8 (H, W, 3) frame per named camera to every observation.

Frames are rendered off-screen with `mujoco.Renderer` at image_size x image_size directly (never a large
frame resized), with shadows and reflections off (~3x cheaper), and flipped to top-down as
`MetaWorldEnv.render` flips its frames. The GL backend is chosen (`choose_gl_backend`) before MuJoCo is
imported, so rendering works headless (OSMesa on a CPU machine, EGL on a GPU).

A camera task's name carries its cameras, `metaworld/pick-place[corner2,gripperPOV@84]`, and the registry
resolves such names (`parse_camera_name`), so worker processes, expert factories and evaluation rebuild
the same task from its name alone. A task that already has cameras (e.g. `metaworld-vision/<task>`) gets
its cameras replaced, not added to. This module does not choose cameras for a checkpoint; see evaluation.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Sequence

import gymnasium as gym
import numpy as np

from protege.envs.task import Task
from protege.errors import ProtegeError
from protege.specs import ArraySpec, Spec

# corner2 sees the whole workspace (the object is a few pixels at 84x84); gripperPOV, on the wrist, sees
# the object large when the hand is near it. The pair is the robomimic "agentview + eye-in-hand" recipe.
DEFAULT_CAMERAS = ("corner2", "gripperPOV")
DEFAULT_IMAGE_SIZE = 84
MAX_IMAGE_SIZE = 1024

_NAME = re.compile(r"^(?P<base>[^\[\]]+)\[(?P<cams>[A-Za-z0-9_,.-]+)@(?P<size>\d+)\]$")


def camera_task_name(base: str, cameras: Sequence[str], image_size: int) -> str:
    return f"{base}[{','.join(cameras)}@{int(image_size)}]"


def parse_camera_name(name: str) -> tuple[str, tuple[str, ...], int] | None:
    """'metaworld/reach[corner2@84]' -> ('metaworld/reach', ('corner2',), 84); None for a plain name."""
    m = _NAME.match(name)
    if m is None:
        return None
    return m["base"], tuple(c for c in m["cams"].split(",") if c), int(m["size"])


def parse_cameras(text: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """The --cameras flag: 'corner2,gripperPOV' (or a list) -> ('corner2', 'gripperPOV'); None stays None."""
    if text is None:
        return None
    parts = text.split(",") if isinstance(text, str) else list(text)
    cams = tuple(p.strip() for p in parts if p.strip())
    if not cams:
        raise ProtegeError(f"--cameras: expected camera names separated by commas, found {text!r}")
    if len(set(cams)) != len(cams):
        raise ProtegeError(f"--cameras: expected distinct camera names, found {text!r}")
    return cams


def _check_size(image_size: int) -> int:
    if not isinstance(image_size, (int, np.integer)) or isinstance(image_size, bool) or not 8 <= image_size <= MAX_IMAGE_SIZE:
        raise ProtegeError(f"--image-size: expected an integer in [8, {MAX_IMAGE_SIZE}], found {image_size!r}")
    return int(image_size)


def with_cameras(task: Task, cameras: Sequence[str] | None = None, image_size: int | None = None,
                 name: str | None = None) -> Task:
    """`task` with one uint8 (image_size, image_size, 3) observation per camera (key = camera name).

    cameras: MuJoCo camera names (default: the task's own cameras, else `DEFAULT_CAMERAS`).
    image_size: pixels per side (default: the task's own, else `DEFAULT_IMAGE_SIZE`).
    name: the new task's name (default: the base name with `[cams@size]`, resolvable by `get_task`).
    The env's other observations, the expert, success, horizon and fps are the task's own.
    """
    base = task.camera_base or task
    cams = tuple(cameras) if cameras is not None else (task.cameras or DEFAULT_CAMERAS)
    size = _check_size(image_size if image_size is not None else (task.image_size or DEFAULT_IMAGE_SIZE))
    parse_cameras(list(cams))  # non-empty, distinct
    clash = [c for c in cams if c in base.spec.observation]
    if clash:
        raise ProtegeError(f"--cameras: expected names other than the task's observation keys "
                           f"{list(base.spec.observation)}, found {clash}")
    if name is None:
        plain = base.name
        name = plain if (task.cameras and cams == task.cameras and size == task.image_size
                         and task.name == plain) else camera_task_name(plain, cams, size)
    image = ArraySpec((size, size, 3), dtype="uint8")
    spec = Spec(observation={**base.spec.observation, **{c: image for c in cams}}, action=base.spec.action,
                fps=base.spec.fps)
    make_base = base.make_env

    def make_env(render_mode: str | None = None, **kwargs: Any) -> gym.Env:
        return CameraEnv(make_base(render_mode=render_mode, **kwargs), cams, size)

    desc = f"{base.description}; cameras {', '.join(cams)} at {size}x{size}" if base.description else ""
    return dataclasses.replace(task, name=name, make_env=make_env, spec=spec, cameras=cams, image_size=size,
                               camera_base=base, description=desc)


def mujoco_handles(env: gym.Env) -> tuple[Any, Any]:
    """The MuJoCo (model, data) under an env and its wrappers (Meta-World's inside `MetaWorldEnv`)."""
    inner = env.unwrapped
    inner = getattr(inner, "unwrapped_env", inner)
    model, data = getattr(inner, "model", None), getattr(inner, "data", None)
    if model is None or data is None:
        raise ProtegeError(f"cameras: expected a MuJoCo env (with model and data), found {type(inner).__name__}")
    return model, data


class CameraRenderer:
    """Off-screen renders of named cameras of one MuJoCo model: `render()` -> {camera: (S, S, 3) uint8}."""

    def __init__(self, model: Any, data: Any, cameras: Sequence[str], size: int):
        from protege.evaluation.video import choose_gl_backend, rendering_error

        backend = choose_gl_backend()
        import mujoco

        _match_gl_context(mujoco, backend)
        missing = [c for c in cameras if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, c) < 0]
        if missing:
            known = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_CAMERA, i) for i in range(model.ncam)]
            raise ProtegeError(f"--cameras: expected camera names among {known}, found {missing}")
        model.light_castshadow[:] = 0  # visual only: physics is untouched
        model.mat_reflectance[:] = 0
        model.vis.global_.offwidth = max(int(model.vis.global_.offwidth), size)
        model.vis.global_.offheight = max(int(model.vis.global_.offheight), size)
        self.data, self.cameras, self.size = data, tuple(cameras), size
        try:
            self._renderer = mujoco.Renderer(model, size, size)
        except Exception as e:  # GL failures come as many types
            raise rendering_error("cameras", e) from None

    def render(self) -> dict[str, np.ndarray]:
        out = {}
        for cam in self.cameras:
            self._renderer.update_scene(self.data, camera=cam)
            # bottom-up like every MuJoCo camera here: flipped exactly as MetaWorldEnv.render flips
            out[cam] = np.ascontiguousarray(self._renderer.render()[::-1])
        return out

    def close(self) -> None:
        self._renderer.close()


def _match_gl_context(mujoco: Any, backend: str) -> None:
    """MuJoCo picks its GL context class when first imported, from MUJOCO_GL as it was then. When something
    imported MuJoCo before the backend was chosen (a simulator-only env, a test), it holds GLFW's, which
    needs a display: put the chosen headless backend's class in its place (PyOpenGL is not loaded by the
    GLFW path, so the headless one can still pick its platform)."""
    from mujoco import gl_context

    chosen = getattr(gl_context, "_MUJOCO_GL", backend)
    if backend == chosen or backend not in ("osmesa", "egl"):
        return
    if backend == "osmesa":
        from mujoco.osmesa import GLContext
    else:
        from mujoco.egl import GLContext
    gl_context.GLContext = GLContext
    gl_context._MUJOCO_GL = backend


class CameraEnv(gym.Wrapper):
    """Adds one frame per camera to each dict observation (after reset and after every step)."""

    def __init__(self, env: gym.Env, cameras: Sequence[str], size: int):
        super().__init__(env)
        self.cameras, self.size = tuple(cameras), int(size)
        box = gym.spaces.Box(0, 255, (self.size, self.size, 3), np.uint8)
        self.observation_space = gym.spaces.Dict({**env.observation_space.spaces, **{c: box for c in self.cameras}})
        self._renderer: CameraRenderer | None = None

    def _frames(self) -> dict[str, np.ndarray]:
        if self._renderer is None:  # built on first use: the env may be made in one process, used in another
            self._renderer = CameraRenderer(*mujoco_handles(self.env), self.cameras, self.size)
        return self._renderer.render()

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        return {**obs, **self._frames()}, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return {**obs, **self._frames()}, reward, terminated, truncated, info

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self.env.close()
