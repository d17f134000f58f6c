"""From pixels, end to end: record Meta-World with a camera, train a vision policy, evaluate it (the cameras
it needs rendered; worker processes too), refuse a task whose cameras differ, collect with DAgger through
cameras, export it and deploy it (PyTorch and ONNX) on the simulated robot's rendered frames.

Meta-World episodes last 500 steps unless they succeed, and every step renders (~25 ms here), so the fast
tests run the same task under a test name with a 40-step horizon (`e2e-vision/reach`: env, cameras, expert
and success exactly those of `metaworld-vision/reach`); worker processes rebuild tasks from the built-in
registry, so the comparison across worker counts runs the real task and is marked slow."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from protege.cli import main

SIZE = 16  # frame side: small frames keep training cheap (rendering costs about the same at any size here)
TASK = f"metaworld-vision/reach[corner2@{SIZE}]"
SHORT = "e2e-vision/reach"
SHORT_TASK = f"{SHORT}[corner2@{SIZE}]"
HORIZON = 40


@pytest.fixture(scope="module", autouse=True)
def short_task(request):
    """`e2e-vision/reach`: metaworld-vision/reach with a 40-step horizon, registered for this module only."""
    from protege.envs import get_task, registry
    from protege.envs.cameras import with_cameras

    # tests/conftest.py's check (its `needs_gl` fixture is per test; every test here renders)
    conftest = next(m for m in request.config.pluginmanager.get_plugins()
                    if getattr(m, "__file__", None) == str(Path(__file__).with_name("conftest.py")))
    reason = conftest.gl_unavailable_reason()
    if reason:
        pytest.skip(reason)

    def make():
        real = get_task("metaworld-vision/reach")
        hidden = dataclasses.replace(real.camera_base, name=SHORT, horizon=HORIZON)
        return with_cameras(hidden, real.cameras, real.image_size, name=SHORT)

    registry.register(SHORT, make)
    yield
    registry._FACTORIES.pop(SHORT, None)
    for name in [n for n in registry._CACHE if n.startswith(SHORT)]:
        registry._CACHE.pop(name)


@pytest.fixture(scope="module")
def vision_checkpoint(tmp_path_factory):
    """A tiny mlp trained 30 steps from 3 expert episodes of corner2 frames + the 7-D state."""
    from protege.algos.bc import TrainConfig, train_bc
    from protege.data import load_dataset
    from protege.policies import EncoderConfig, MLPConfig
    from protege.recording import record_expert

    root = tmp_path_factory.mktemp("vision_e2e")
    data = record_expert("metaworld-vision/reach", 3, root / "demos", cameras="corner2", image_size=SIZE)
    ds = load_dataset(data)
    assert ds.meta["task"] == TASK and ds.spec.observation["corner2"].shape == (SIZE, SIZE, 3)
    train_bc(ds, "mlp", MLPConfig(hidden_dims=(64, 64)), TrainConfig(steps=30, batch_size=16, eval_every=30),
             out=root / "ckpt", encoder=EncoderConfig(name="small", feature_dim=16))
    cfg = json.loads((root / "ckpt/config.json").read_text())
    assert cfg["encoder"]["cameras"] == {"corner2": {"shape": [SIZE, SIZE, 3], "crop": [14, 14]}}
    return root / "ckpt"


def _run(capsys, *argv) -> str:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def test_eval_renders_the_cameras_the_checkpoint_needs(vision_checkpoint, tmp_path, capsys):
    _run(capsys, "eval", "--checkpoint", vision_checkpoint, "--task", SHORT_TASK, "--episodes", 2,
         "--json", tmp_path / "e.json")
    got = json.loads((tmp_path / "e.json").read_text())
    assert got["task"] == SHORT_TASK and [e["length"] for e in got["per_episode"]] == [HORIZON, HORIZON]


@pytest.mark.slow
def test_eval_from_the_checkpoint_task_is_the_same_with_two_workers(vision_checkpoint, tmp_path, capsys):
    """No --task: the checkpoint's own task (its name carries the cameras) is rebuilt in each worker."""
    for workers in (1, 2):
        _run(capsys, "eval", "--checkpoint", vision_checkpoint, "--episodes", 2, "--workers", workers,
             "--json", tmp_path / f"w{workers}.json")
    one, two = (json.loads((tmp_path / f"w{w}.json").read_text()) for w in (1, 2))
    assert one["task"] == two["task"] == TASK
    assert one["per_episode"] == two["per_episode"] and len(one["per_episode"]) == 2


@pytest.mark.parametrize("task", [f"metaworld-vision/reach[corner2@{2 * SIZE}]",  # another size
                                  f"metaworld-vision/reach[gripperPOV@{SIZE}]",  # another camera
                                  "metaworld-vision/reach"])  # the default pair at 84
def test_a_task_whose_cameras_differ_is_refused_naming_both(vision_checkpoint, task, tmp_path, capsys):
    code = main(["eval", "--checkpoint", str(vision_checkpoint), "--task", task, "--episodes", "1",
                 "--json", str(tmp_path / "e.json")])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and not (tmp_path / "e.json").exists()
    assert f"does not fit task {task}" in lines[0] and f"corner2: uint8[{SIZE}, {SIZE}, 3]" in lines[0]
    other = task[task.index("[") + 1:task.index("@")] if "[" in task else "gripperPOV"
    size = task[task.index("@") + 1:-1] if "[" in task else "84"
    assert f"{other}: uint8[{size}, {size}, 3]" in lines[0].split("found", 1)[1]


def test_dagger_collects_with_cameras_and_learns_a_vision_policy(tmp_path, capsys):
    from protege.data import load_dataset

    run = tmp_path / "run"
    _run(capsys, "dagger", "--task", SHORT, "--cameras", "corner2", "--image-size", SIZE, "--rounds", 1,
         "--episodes-per-round", 1, "--demos", 2, "--eval-episodes", 1, "--train.steps", 10,
         "--train.batch-size", 16, "--train.eval-every", 10, "--mlp.hidden-dims", 32, 32, "--encoder", "small",
         "--out", run)
    ds = load_dataset(run / "data")
    assert ds.meta["task"] == SHORT_TASK and len(ds) == 3  # 2 demonstrations + 1 collected episode
    for ep in ds.episodes:
        cam = ep.observations["corner2"]
        assert cam.shape[1:] == (SIZE, SIZE, 3) and len(cam) >= len(ep) and np.asarray(cam[0]).std() > 5
    rounds = json.loads((run / "rounds.json").read_text())
    assert [r["round"] for r in rounds] == [0, 1]
    cfg = json.loads((run / "rounds/round_001/config.json").read_text())
    assert cfg["encoder"]["name"] == "small" and list(cfg["encoder"]["cameras"]) == ["corner2"]
    assert cfg["spec"]["observation"]["corner2"]["shape"] == [SIZE, SIZE, 3]


def test_deploy_feeds_rendered_frames_and_reports_observation_to_action_latency(vision_checkpoint, tmp_path,
                                                                                capsys):
    _run(capsys, "export", "--checkpoint", vision_checkpoint, "--out", tmp_path / "policy.onnx")
    for source in (["--checkpoint", vision_checkpoint], ["--model", tmp_path / "policy.onnx"]):
        out = _run(capsys, "deploy", *source, "--robot", f"sim:{TASK}", "--hz", 20, "--steps", 20,
                   "--json", tmp_path / "d.json")
        report = json.loads((tmp_path / "d.json").read_text())
        assert report["stop_reason"] == "completed" and report["steps"] == 20
        assert 0 < report["observation_to_action_ms"]["median"] < 1000 / 20  # within one period at 20 Hz
        assert "observation-to-action ms" in out
