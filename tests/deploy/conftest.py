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
