import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture
def make_episode():
    """Build a small valid Episode; keyword overrides replace fields."""
    from protege.data import Episode

    def _make(T: int = 10, obs_dim: int = 3, act_dim: int = 2, seed: int = 0, **kw):
        rng = np.random.default_rng(seed)
        fields = dict(observations={"state": rng.normal(size=(T, obs_dim)).astype(np.float32)},
                      actions=rng.uniform(-1, 1, size=(T, act_dim)).astype(np.float32),
                      rewards=rng.normal(size=T).astype(np.float32), success=True, info={"seed": seed})
        fields.update(kw)
        return Episode(**fields)

    return _make


@pytest.fixture
def protege_cmd():
    """The `protege` executable of this environment."""
    exe = Path(sys.executable).parent / "protege"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "protege.cli"]
