"""Task registry: name -> Task. Tasks register lazily so importing protege does not import simulators."""

from __future__ import annotations

import difflib
from typing import Callable

from protege.envs.task import Task
from protege.errors import ProtegeError

_FACTORIES: dict[str, Callable[[], Task]] = {}
_CACHE: dict[str, Task] = {}
_LOADED = False


def register(name: str, factory: Callable[[], Task]) -> None:
    """Register a task under `name`; `factory` is called once, on first use."""
    _FACTORIES[name] = factory


_RESOLVERS: list[Callable[[str], "Task | None"]] = []


def register_resolver(resolve: Callable[[str], "Task | None"]) -> None:
    """Register `resolve(name) -> Task | None` for names no factory holds: a task whose options are in its
    name (`lane[T=500]`). It returns None for a name that is not its own, and raises on bad options."""
    _RESOLVERS.append(resolve)


def _load_builtin() -> None:
    """Import every module of `protege.envs`: task modules register themselves at import."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    import importlib
    import pkgutil

    import protege.envs as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name not in ("registry", "task") and not info.name.startswith("_"):
            importlib.import_module(f"protege.envs.{info.name}")


def list_tasks() -> list[str]:
    _load_builtin()
    return sorted(_FACTORIES)


def get_task(name: str) -> Task:
    _load_builtin()
    if name not in _FACTORIES and name not in _CACHE:
        for resolve in _RESOLVERS:  # a name carrying options, e.g. 'lane[T=500]'
            resolved = resolve(name)
            if resolved is not None:
                _CACHE[name] = resolved
                return resolved
    if name not in _FACTORIES and name not in _CACHE:
        from protege.envs.cameras import parse_camera_name, with_cameras

        parsed = parse_camera_name(name)
        if parsed is not None:  # 'metaworld/reach[corner2@84]': a registered task with cameras
            base, cameras, size = parsed
            _CACHE[name] = with_cameras(get_task(base), cameras, size, name=name)
            return _CACHE[name]
    if name not in _FACTORIES and name not in _CACHE:
        close = difflib.get_close_matches(name, _FACTORIES, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else " (see `protege tasks`)"
        raise ProtegeError(f"task: expected a registered task name, found '{name}'{hint}")
    if name not in _CACHE:
        _CACHE[name] = _FACTORIES[name]()
    return _CACHE[name]


class ExpertFactory:
    """A picklable factory for a registered task's expert (for worker processes)."""

    def __init__(self, task_name: str):
        self.task_name = task_name

    def __call__(self):
        return get_task(self.task_name).make_expert()
