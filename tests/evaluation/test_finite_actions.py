"""Evaluation refuses non-finite actions before they reach the environment, and non-finite weights."""

import numpy as np
import pytest
import torch

from protege.envs import get_task
from protege.errors import ProtegeError
from protege.evaluation.evaluate import check_finite_weights, evaluate


class _NanAfter:
    """Zeros for `n` steps, then NaN; counts the actions the environment was sent."""

    def __init__(self, n):
        self.n, self.t = n, 0

    def reset(self):
        self.t = 0

    def act(self, obs):
        self.t += 1
        return np.full(1, np.nan if self.t > self.n else 0.0, np.float32)


def test_a_nan_action_stops_evaluation_with_one_line():
    actor = _NanAfter(3)
    with pytest.raises(ProtegeError, match=r"^checkpoint ck: expected finite actions, found \[nan\] at step 3 "):
        evaluate(get_task("pendulum"), lambda: actor, episodes=2, who="checkpoint ck")
    assert actor.t == 4  # the NaN action was asked for, never sent


def test_non_finite_weights_are_named():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    check_finite_weights(net, "policy")
    with torch.no_grad():
        net[1].bias[0] = float("inf")
    with pytest.raises(ProtegeError, match=r"^policy: tensor '1.bias': expected finite weights, found 1 of 1 "):
        check_finite_weights(net, "policy")
