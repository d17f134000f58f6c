import pytest

from protege.algos.rl import NPGConfig, PPOConfig
from protege.data import EpisodeDataset
from protege.errors import ProtegeError


@pytest.mark.parametrize("make, message", [
    (lambda: NPGConfig(kl_step=0), r"npg config: field 'kl_step': expected > 0, found 0"),
    (lambda: NPGConfig(cg_iters=0), r"npg config: field 'cg_iters': expected >= 1, found 0"),
    (lambda: PPOConfig(clip=1.5), r"ppo config: field 'clip': expected a value in \(0, 1\), found 1\.5"),
    (lambda: PPOConfig(minibatch_size=0), r"ppo config: field 'minibatch_size': expected >= 1, found 0"),
    (lambda: EpisodeDataset([]), r"training data: field 'episodes': expected at least one episode, found none"),
])
def test_config_errors_are_one_line_protege_errors(make, message):
    with pytest.raises(ProtegeError, match=message):
        make()


def test_zero_envs_is_one_line():
    from protege.algos.rl.rollout import VecSampler
    from protege.envs import get_task

    with pytest.raises(ProtegeError, match=r"rl config: field 'num_envs': expected >= 1, found 0"):
        VecSampler(get_task("pendulum"), 0)
