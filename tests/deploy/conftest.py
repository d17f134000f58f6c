import pytest


@pytest.fixture(scope="session")
def pendulum_data(tmp_path_factory):
    from protege.data import load_dataset
    from protege.recording import record_expert

    path = tmp_path_factory.mktemp("deploy") / "ds"
    record_expert("pendulum", 3, path, seed=0)
    return load_dataset(path)


@pytest.fixture(scope="session")
def mlp_checkpoint(pendulum_data, tmp_path_factory):
    from protege.algos.bc import TrainConfig, train_bc
    from protege.policies import MLPConfig

    out = tmp_path_factory.mktemp("deploy") / "mlp"
    train_bc(pendulum_data, "mlp", MLPConfig(hidden_dims=(64, 64)), TrainConfig(steps=150, eval_every=150), out=out)
    return out


# Every head, tiny, with its execution features on: ACT with temporal ensembling, GMM with its held draw.
HEADS = {
    "mlp": dict(hidden_dims=(32, 32)),
    "gaussian": dict(hidden_dims=(32,)),
    "gmm": dict(hidden_dims=(32,), horizon=4, n_action_steps=2, sample="component", hold_draw=True),
    "discrete": dict(hidden_dims=(32,), bins=16, sample=True, horizon=2, n_action_steps=2),
    "chunked": dict(hidden_dims=(32,), horizon=4, n_action_steps=2, n_obs=2),
    "act": dict(horizon=4, n_action_steps=1, execution="ensemble", ensemble_m=0.1, d_model=16, n_heads=2, ff_dim=32, latent_dim=4),
    "diffusion": dict(horizon=4, n_action_steps=2, down_dims=(8, 16), inference_steps=3),
    "flow": dict(horizon=4, n_action_steps=2, down_dims=(8, 16), steps=2),
}


@pytest.fixture(scope="session")
def head_checkpoints(pendulum_data, tmp_path_factory):
    """head name -> checkpoint folder, each trained for a few dozen steps (enough to act non-trivially)."""
    from protege.algos.bc import TrainConfig, train_bc
    from protege.policies import POLICIES

    root = tmp_path_factory.mktemp("heads")
    for name, kw in HEADS.items():
        train_bc(pendulum_data, name, POLICIES[name][0](**kw), TrainConfig(steps=30, eval_every=30, batch_size=64),
                 out=root / name)
    return {name: root / name for name in HEADS}
