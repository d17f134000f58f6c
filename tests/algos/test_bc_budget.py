"""Without a step count, training picks its budget from the dataset: 25 passes over the samples at the
batch size, never fewer than 2000 steps; the checkpoint records the steps it took."""

import json

import numpy as np
import pytest

from protege.algos.bc import AUTO_MIN_STEPS, TrainConfig, auto_steps, train_bc
from protege.data.episode import Episode
from protege.data.native import Dataset
from protege.errors import ProtegeError
from protege.specs import ArraySpec, Spec


def test_auto_steps_is_the_floor_for_small_datasets_and_25_passes_for_large_ones():
    assert auto_steps(2637, 128) == auto_steps(5055, 256) == AUTO_MIN_STEPS  # 50 Meta-World demonstrations
    assert auto_steps(200_000, 256) == 19_532  # ceil(25 * 200000 / 256): the MT50 scale
    assert auto_steps(200_000, 128) == 39_063  # the same passes at half the batch: twice the steps


def test_training_without_steps_takes_the_auto_budget_and_records_it(tmp_path):
    rng = np.random.default_rng(0)
    eps = [Episode(observations={"state": (o := rng.normal(size=(30, 2)).astype(np.float32))}, actions=o[:, :1],
                   info={"seed": i}) for i in range(6)]
    ds = Dataset(eps, Spec(observation={"state": ArraySpec((2,))}, action=ArraySpec((1,)), fps=10.0))
    res = train_bc(ds, "mlp", {"hidden_dims": (8,)}, TrainConfig(batch_size=16, eval_every=500, threads=1),
                   out=tmp_path / "ck")
    assert [r["step"] for r in res.history][-1] == AUTO_MIN_STEPS
    assert json.loads((tmp_path / "ck" / "config.json").read_text())["train"]["steps"] == AUTO_MIN_STEPS


def test_a_negative_step_count_is_refused():
    with pytest.raises(ProtegeError, match="'steps': expected >= 1 \\(0 = auto\\), found -3"):
        TrainConfig(steps=-3)
