"""Tasks: real third-party simulators (gymnasium Pendulum, Meta-World v3) with experts and success tests."""

from protege.envs.registry import ExpertFactory, get_task, list_tasks, register
from protege.envs.task import Task

__all__ = ["ExpertFactory", "Task", "get_task", "list_tasks", "register"]
