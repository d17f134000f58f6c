import json

import numpy as np
import pytest


def write_camera_dataset(root, episodes: int = 3, T: int = 30, size: int = 32):
    """A small dataset with a camera: a bright square moving across the frame; the policy acted in the
    middle of each episode, with a person intervening part of the time and the expert's labels recorded."""
    from protege.data import Episode
    from protege.data.native import DatasetWriter
    from protege.specs import ArraySpec, Spec

    spec = Spec({"state": ArraySpec((3,)), "front": ArraySpec((size, size, 3), "uint8")},
                ArraySpec((2,), low=(-1.0, -1.0), high=(1.0, 1.0)), fps=10.0)
    rng = np.random.default_rng(0)
    with DatasetWriter(root, spec, task="toy/square") as w:
        for e in range(episodes):
            frames = np.zeros((T, size, size, 3), np.uint8)
            frames[..., 2] = 40
            for t in range(T):
                x = int(t / T * (size - 8))
                frames[t, 10:18, x:x + 8] = (250, 200, 30)
            source = np.zeros(T, np.uint8)
            source[T // 3:2 * T // 3] = 1
            source[T // 2:T // 2 + 3] = 2
            intervened = source == 2
            actions = np.clip(rng.normal(0, 0.5, (T, 2)), -1, 1).astype(np.float32)
            w.add(Episode(observations={"state": rng.normal(size=(T, 3)).astype(np.float32), "front": frames},
                          actions=actions, labels=np.clip(actions + 0.1, -1, 1), label_mask=source != 0,
                          rewards=np.linspace(0, 1, T).astype(np.float32), success=e != 1, source=source,
                          intervened=intervened, info={"seed": e}))
    return root


@pytest.fixture
def camera_dataset(tmp_path):
    return write_camera_dataset(tmp_path / "cams")


@pytest.fixture
def trained(tmp_path):
    """A checkpoint from a brief train (60 steps, validated every 10) and its result."""
    from protege.algos.bc import TrainConfig, train_bc
    from protege.data.episode import Episode
    from protege.data.native import Dataset
    from protege.specs import ArraySpec, Spec

    rng = np.random.default_rng(0)
    eps = []
    for i in range(8):
        obs = rng.normal(size=(30, 2)).astype(np.float32)
        eps.append(Episode(observations={"state": obs}, actions=obs[:, :1], info={"seed": i}))
    ds = Dataset(eps, Spec(observation={"state": ArraySpec((2,))}, action=ArraySpec((1,)), fps=10.0))
    res = train_bc(ds, "mlp", {"hidden_dims": (16,)}, TrainConfig(steps=60, eval_every=10, batch_size=32, threads=1),
                   out=tmp_path / "ck")
    return tmp_path / "ck", res


@pytest.fixture
def evaluated(tmp_path, monkeypatch):
    """An evaluation of 6 bimodal episodes (some fail) with every rollout's video, run from tmp_path with
    relative paths (as a user types them), then looked at from elsewhere."""
    from _eval_actors import SomeFail

    from protege.envs import get_task
    from protege.evaluation.evaluate import evaluate

    monkeypatch.chdir(tmp_path)
    result = evaluate(get_task("bimodal"), SomeFail, episodes=6, seed=0, videos="ev/videos")
    (tmp_path / "ev" / "eval.json").write_text(json.dumps({"who": "some-fail", "task": "bimodal", **result.to_dict()}))
    monkeypatch.chdir(tmp_path / "ev" / "videos")
    return tmp_path / "ev", result


@pytest.fixture
def dart_run(tmp_path):
    """A brief `protege dart` run on pendulum: 2 rounds of 2 episodes, a tiny policy trained after each."""
    from protege.algos.bc import TrainConfig
    from protege.algos.dart import DartConfig, run_dart

    result = run_dart("pendulum", tmp_path / "dart", DartConfig(episodes=4, rounds=2), "mlp", {"hidden_dims": (8,)},
                      TrainConfig(steps=20, eval_every=10, threads=1, val_fraction=0.5))
    return tmp_path / "dart", result
