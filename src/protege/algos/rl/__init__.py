"""Reinforcement learning from a Gaussian policy: the RL loop (`loop.py`), its optimisers (`npg.py`,
`ppo.py`), advantages and baseline (`gae.py`, `value.py`), vectorised sampling (`rollout.py`), run folders
(`checkpoint.py`, `curve.py`), and DAPG (`dapg.py`: BC, then the loop with the demonstration term)."""

from protege.algos.rl.dapg import run_dapg
from protege.algos.rl.loop import RLConfig, RLResult, rl_from_scratch, train_rl
from protege.algos.rl.npg import NPGConfig
from protege.algos.rl.ppo import PPOConfig

__all__ = ["NPGConfig", "PPOConfig", "RLConfig", "RLResult", "rl_from_scratch", "run_dapg", "train_rl"]
