"""The DAgger family's hg gate with a device-driven person as its expert (no simulated supervisor)."""

import numpy as np

from protege.algos.dagger import collect_episode
from protege.algos.dagger.gates import HGGate
from protege.data import SOURCE_HUMAN, SOURCE_POLICY
from protege.envs import get_task
from protege.teleop import ScriptedSource, TeleopDevice, default_profile, script
from protege.teleop.input import TAKEOVER


class ConstantLearner:
    def reset(self):
        pass

    def act_all(self, obs):
        return np.array([[-0.5]], np.float32)  # (K=1, A)


def test_hg_gate_accepts_a_person_at_a_device():
    task = get_task("pendulum")
    person = TeleopDevice(ScriptedSource(script([(4, TAKEOVER), (4, (0.25,)), (9, TAKEOVER)], 300)),
                          default_profile("scripted", task.spec), task.spec)
    env = task.make_env()
    ep = collect_episode(task, env, ConstantLearner(), person, HGGate(person), seed=5)
    env.close()
    human = np.zeros(len(ep), bool)
    human[4:9] = True
    np.testing.assert_array_equal(ep.intervened, human)
    np.testing.assert_array_equal(ep.source, np.where(human, SOURCE_HUMAN, SOURCE_POLICY))
    np.testing.assert_array_equal(ep.label_mask, human)
    np.testing.assert_allclose(ep.actions[:, 0], np.where(human, 0.5, -0.5))  # 0.25 of full deflection = 0.5 N m
