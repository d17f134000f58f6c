"""Exporting a task- or instruction-conditioned policy: the condition is one more graph input, the vocabulary
travels in the file, parity with PyTorch holds for every task, and the runner maps names as PyTorch does."""

import numpy as np
import pytest
import torch

from protege.checkpoint import PolicyActor
from protege.controller import Controller
from protege.data import compute_stats
from protege.data.episode import Episode
from protege.deploy import ExportedPredictor, TorchPredictor
from protege.deploy.export import export_policy
from protege.deploy.exported import load_exported
from protege.errors import ProtegeError
from protege.policies import ConditioningConfig, make_policy
from protege.policies.encoders.conditioning import vocabulary_from_episodes
from protege.specs import ArraySpec, Spec

SPEC = Spec(observation={"state": ArraySpec((3,))}, action=ArraySpec((2,), low=[-1.0, -1.0], high=[1.0, 1.0]), fps=10.0)
TASKS = {"go-left": "move to the left", "go-right": "move to the right", "stay": "hold still"}
HASHING = "protege.policies.encoders.conditioning:HashingTextEncoder"


def _episodes():
    rng = np.random.default_rng(0)
    return [Episode(observations={"state": rng.normal(size=(12, 3)).astype(np.float32)},
                    actions=rng.uniform(-1, 1, (12, 2)).astype(np.float32),
                    info={"task": t, "instruction": text}) for t, text in TASKS.items() for _ in range(2)]


def _policy(head, kind="task", fusion="concat", **fields):
    torch.manual_seed(0)
    eps = _episodes()
    extra = {"text_encoder": HASHING, "text_encoder_arg": "12"} if kind == "embedding" else {}
    cond = vocabulary_from_episodes(ConditioningConfig(kind=kind, fusion=fusion, embed_dim=6, **extra), eps)
    return make_policy(head, fields or None, SPEC, compute_stats(eps), conditioning=cond).eval()


@pytest.mark.parametrize("head,kind,fusion,fields", [
    ("mlp", "task", "concat", {}),
    ("mlp", "task", "film", {}),
    ("mlp", "instruction", "concat", {}),
    ("mlp", "embedding", "film", {}),
    ("chunked", "task", "film", {"horizon": 4, "n_action_steps": 2, "n_obs": 2}),
    ("diffusion", "instruction", "film",
     {"horizon": 4, "n_action_steps": 2, "down_dims": (8, 16), "inference_steps": 3}),
])
def test_conditioned_export_parity_for_every_task(head, kind, fusion, fields, tmp_path):
    torch.set_num_threads(1)
    policy = _policy(head, kind, fusion, **fields)
    for fmt, name in (("onnx", "p.onnx"), ("torchscript", "p.pt")):
        report = export_policy(policy, tmp_path / name, fmt, parity_samples=4)
        assert report.condition == kind and set(report.per_task_max_abs_diff) == set(TASKS)
        assert max(report.per_task_max_abs_diff.values()) == report.max_abs_diff <= 1e-5, (fmt, report)
        model = load_exported(tmp_path / name)
        assert model.conditioning.tasks == sorted(TASKS) and model.conditioning.instructions == TASKS
        assert model.meta["inputs"][:2] == ["obs.state", "obs.condition"] and model.observation_keys == ["state"]
        # the runner maps every task name (and training instruction) to the input PyTorch reads
        for task, text in TASKS.items():
            np.testing.assert_array_equal(model.condition_input(task=task).array,
                                          policy.condition_input(task=task).array)
            np.testing.assert_array_equal(model.condition_input(instruction=text).array,
                                          policy.condition_input(instruction=text).array)


def test_the_condition_changes_the_exported_action(tmp_path):
    """Not a constant input: with trained-looking weights the tasks' chunks differ, as in PyTorch."""
    policy = _policy("mlp", "task", "concat")
    export_policy(policy, tmp_path / "p.onnx", parity_samples=2)
    model = load_exported(tmp_path / "p.onnx")
    obs = {"state": np.zeros((1, 1, 3), np.float32)}
    chunks = {t: model.run({**obs, "condition": model.condition_input(task=t).array.reshape(1, 1)}, []) for t in TASKS}
    assert np.abs(chunks["go-left"] - chunks["go-right"]).max() > 1e-3
    for t in TASKS:  # and each equals the PyTorch actor conditioned on the same task
        np.testing.assert_allclose(chunks[t][0, 0], PolicyActor(policy, task=t).act({"state": obs["state"][0, 0]}),
                                   atol=1e-5)


def test_exported_runner_refuses_unknown_tasks_and_reports_unseen_instructions(tmp_path):
    export_policy(_policy("mlp", "task"), tmp_path / "t.onnx", parity_samples=1)
    model = load_exported(tmp_path / "t.onnx")
    with pytest.raises(ProtegeError) as e:
        model.condition_input(task="go-up")
    msg = str(e.value)
    assert "\n" not in msg and "go-up" in msg and "go-left" in msg and str(tmp_path / "t.onnx") in msg
    with pytest.raises(ProtegeError, match="expected a task name or an instruction"):
        ExportedPredictor(model)  # a conditioned export must be told what to do
    with pytest.raises(ProtegeError, match=r"expected obs\['condition'\]"):
        model.run({"state": np.zeros((1, 1, 3), np.float32)}, [])
    with pytest.raises(ProtegeError, match="--condition instruction"):
        model.condition_input(instruction="go left please")  # a task-id policy reads only its training wording

    export_policy(_policy("mlp", "instruction"), tmp_path / "i.onnx", parity_samples=1)
    model = load_exported(tmp_path / "i.onnx")
    unseen = model.condition_input(instruction="Move, slowly, to the LEFT!")
    assert not unseen.seen and unseen.unseen_words == ["slowly"] and "unseen" in unseen.describe()
    assert model.condition_input(instruction="move to the left").seen


@pytest.mark.parametrize("suffix", ["onnx", "pt"])
def test_exported_and_torch_predictors_act_alike_per_task(suffix, tmp_path):
    """Through the one controller: the exported file and the PyTorch policy, each told the task by name,
    give the same actions over a short episode (chunked head, history 2, receding horizon)."""
    policy = _policy("chunked", "task", "film", horizon=4, n_action_steps=2, n_obs=2)
    export_policy(policy, tmp_path / f"p.{suffix}", "onnx" if suffix == "onnx" else "torchscript", parity_samples=1)
    model = load_exported(tmp_path / f"p.{suffix}")
    rng = np.random.default_rng(1)
    states = rng.normal(size=(7, 1, 3)).astype(np.float32)
    for task in TASKS:
        runs = []
        for pred in (TorchPredictor(policy, task=task), ExportedPredictor(model, task=task)):
            assert pred.obs_keys == ["state"] and pred.condition.text == task
            ctl = Controller(pred.settings, pred.predict, pred.obs_keys, pred.normal)
            runs.append(np.stack([ctl.act({"state": s}) for s in states]))
        np.testing.assert_allclose(runs[0], runs[1], atol=1e-5)
