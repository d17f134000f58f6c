"""Actors for evaluation tests, in a module that imports nothing heavy (a worker process unpickling one
imports this module, not the test module)."""

import numpy as np


class SomeFail:
    """On `bimodal`: the expert where the episode starts below y = -1.0, else straight at the obstacle (a
    collision, so a failure). Which episodes fail is a function of the seed alone, whichever worker runs it."""

    def __init__(self):
        from protege.envs import get_task

        self.expert = get_task("bimodal").make_expert()
        self.straight = None

    def reset(self):
        self.expert.reset()
        self.straight = None

    def act(self, obs):
        if self.straight is None:
            self.straight = bool(obs["state"][1] > -1.0)
        return np.array([0.0, 1.0], np.float32) if self.straight else self.expert.act(obs)
