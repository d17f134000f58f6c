"""One controller: `protege eval` and `protege deploy` execute a checkpoint the same way, for every head.

Eval's rollout (`run_episode` with the checkpoint's actor, episode seed S) and deploy on the simulated
robot (`run_deployment` with `--seed S`: the robot's first episode and the sampling noise) must send the
same actions: exactly for the PyTorch checkpoint. For the exported model, float rounding differences
(<= 1e-5 per call) grow along a closed loop, so its actions are compared with eval's actor run on the
observations the exported deploy saw (same seed, same history, queue, ensemble and draws), within 1e-5;
diffusion within 5e-4: its sampler carries a float difference through every denoising step, and on a
fresh clone 2 of its 60 actions differed by 1.7e-4 (4e-5 at another thread count) while a one-ulp nudge of
its inputs moved them by up to 2e-5 (export report); a wrong noise draw or step moves actions by ~0.1.
"""

import numpy as np
import pytest

from protege.deploy import ChunkExecutor, DeployConfig, ExportedPredictor, TorchPredictor, run_deployment
from protege.envs.sim_robot import SimRobot
from protege.evaluation.rollout import eval_seeds, run_episode

HEADS = ["mlp", "gaussian", "gmm", "discrete", "chunked", "act", "diffusion", "flow"]  # conftest.HEADS

SEED = eval_seeds(0, 1)[0]
# flow exports to TorchScript: its ONNX graph differs from PyTorch by up to ~1e-4 on some inputs (tiny model)
STEPS = 60  # within the first episode (pendulum: 200 steps), where eval and deploy share the seed


class RecordingRobot(SimRobot):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sent, self.seen = [], []

    def get_observation(self):
        obs = super().get_observation()
        self.seen.append(obs)
        return obs

    def send_action(self, action):
        self.sent.append(np.array(action, np.float32))
        super().send_action(action)


def eval_actions(checkpoint):
    from protege.checkpoint import load_actor
    from protege.envs import get_task

    task = get_task("pendulum")
    env = task.make_env()
    try:
        return run_episode(task, env, load_actor(checkpoint), SEED).episode.actions[:STEPS]
    finally:
        env.close()


def deploy_actions(predictor):
    robot = RecordingRobot("pendulum", seed=SEED)
    report = run_deployment(robot, ChunkExecutor(predictor), DeployConfig(hz=1000, steps=STEPS, max_obs_age_s=0))
    assert report.stop_reason == "completed"
    return np.stack(robot.sent[:STEPS]), robot.seen  # the last one sent is the safe stop


def eval_actor_on(checkpoint, observations):
    """Eval's actor (reset and seeded as `run_episode` does) on a given observation stream."""
    import torch

    from protege.checkpoint import load_actor

    actor = load_actor(checkpoint)
    actor.reset()
    torch.manual_seed(SEED)
    return np.stack([np.clip(actor.act(o), -2.0, 2.0) for o in observations])


@pytest.mark.parametrize("head", list(HEADS))
def test_eval_and_deploy_send_the_same_actions(head, head_checkpoints, tmp_path):
    from protege.checkpoint import load_checkpoint
    from protege.deploy.export import export_policy
    from protege.deploy.exported import load_exported

    expected = eval_actions(head_checkpoints[head])
    assert np.ptp(expected) > 0  # a policy that acts, not a constant
    torch_sent, _ = deploy_actions(TorchPredictor(load_checkpoint(head_checkpoints[head]), seed=SEED))
    np.testing.assert_array_equal(torch_sent, expected)
    fmt, suffix = ("torchscript", "pt") if head in ("gmm", "act", "flow") else ("onnx", "onnx")
    export_policy(load_checkpoint(head_checkpoints[head]), tmp_path / f"p.{suffix}", fmt, parity_samples=2)
    exported_sent, seen = deploy_actions(ExportedPredictor(load_exported(tmp_path / f"p.{suffix}"), seed=SEED))
    tolerance = 5e-4 if head == "diffusion" else 1e-5
    np.testing.assert_allclose(exported_sent, eval_actor_on(head_checkpoints[head], seen), atol=tolerance, rtol=0)


def test_act_ensembles_and_gmm_holds_its_draw_in_deploy(head_checkpoints):
    """The two features deploy used to drop: the settings come from the checkpoint, not from field names."""
    from protege.checkpoint import load_checkpoint

    act = TorchPredictor(load_checkpoint(head_checkpoints["act"]))
    assert act.settings.execution == "ensemble" and act.settings.ensemble_m == pytest.approx(0.1)
    gmm = TorchPredictor(load_checkpoint(head_checkpoints["gmm"]))
    assert gmm.settings.held == (0,) and gmm.settings.noise_shape == (4, 2)


def test_exported_model_carries_its_execution_settings(head_checkpoints, tmp_path):
    from protege.checkpoint import load_checkpoint
    from protege.deploy.export import export_policy
    from protege.deploy.exported import load_exported
    from protege.errors import ProtegeError

    policy = load_checkpoint(head_checkpoints["act"])
    export_policy(policy, tmp_path / "a.onnx", parity_samples=1)
    model = load_exported(tmp_path / "a.onnx")
    assert model.meta["execution"] == {**policy.execution_settings().to_dict(), "noise_shape": None, "held": []}
    del model.meta["execution"]  # a file exported before the settings travelled with it: no guessing
    with pytest.raises(ProtegeError, match="field 'execution': expected execution settings"):
        ExportedPredictor(model)


@pytest.mark.parametrize("head", ["mlp", "chunked", "act"])
def test_deploy_starts_each_episode_afresh_as_eval_does(head, head_checkpoints):
    """Across an episode boundary of the simulated robot (pendulum: 200 steps, then seed + 1) deploy resets
    the controller, so its second episode is eval's episode with that seed: history padded from the new
    first observation, no chunk or ensemble carried over. Deterministic heads: exact equality."""
    from protege.checkpoint import load_actor, load_checkpoint
    from protege.envs import get_task

    task = get_task("pendulum")
    env = task.make_env()
    try:
        expected = np.concatenate([run_episode(task, env, load_actor(head_checkpoints[head]), s).episode.actions
                                   for s in (SEED, SEED + 1)])[:260]
    finally:
        env.close()
    robot = RecordingRobot("pendulum", seed=SEED)
    report = run_deployment(robot, ChunkExecutor(TorchPredictor(load_checkpoint(head_checkpoints[head]), seed=SEED)),
                            DeployConfig(hz=1000, steps=260, max_obs_age_s=0))
    assert report.stop_reason == "completed" and robot.episodes == 1
    assert [bool(o["episode_start"]) for o in robot.seen].count(True) == 2  # the first episode and the second
    np.testing.assert_array_equal(np.stack(robot.sent[:260]), expected)
