"""Task and instruction conditioning: the shape contract of every head, a two-task problem only the task
id can solve, the vocabulary in the checkpoint, unknown tasks refused, unseen instructions reported."""

import numpy as np
import pytest
import torch

from protege.algos.bc import TrainConfig, train_bc
from protege.checkpoint import PolicyActor, load_checkpoint, save_checkpoint
from protege.data.episode import Episode
from protege.data.windows import Batch
from protege.errors import ProtegeError
from protege.policies import POLICIES, ConditioningConfig, make_policy
from protege.policies.encoders.conditioning import CONDITION_KEY, HashingTextEncoder, condition_input

from two_task_data import SPEC, TASKS, two_task_dataset as _dataset  # noqa: E402


def _conditioning(kind="task", fusion="concat"):
    from protege.policies.encoders.conditioning import vocabulary_from_episodes

    return vocabulary_from_episodes(ConditioningConfig(kind=kind, fusion=fusion, embed_dim=8), _dataset(1).episodes)


SMALL = {"mlp": {"hidden_dims": (32,)}, "gmm": {"hidden_dims": (32,)}, "discrete": {"hidden_dims": (32,)},
         "chunked": {"hidden_dims": (32,), "horizon": 4, "n_action_steps": 2},
         "act": {"d_model": 32, "n_heads": 2, "n_encoder_layers": 1, "n_decoder_layers": 1, "dim_feedforward": 64,
                 "horizon": 4, "n_action_steps": 2},
         "diffusion": {"horizon": 4, "n_action_steps": 2, "down_dims": (16, 32), "num_train_steps": 10,
                       "num_inference_steps": 2},
         "flow": {"horizon": 4, "n_action_steps": 2, "down_dims": (16, 32)},
         "gaussian": {"hidden_dims": (32,)}}


@pytest.mark.parametrize("head", sorted(POLICIES))
@pytest.mark.parametrize("kind,fusion", [("task", "concat"), ("task", "film"), ("instruction", "concat")])
def test_every_head_reads_the_condition(head, kind, fusion):
    fields = {k: v for k, v in SMALL[head].items() if k in POLICIES[head][0].__dataclass_fields__}
    policy = make_policy(head, fields, SPEC, None, conditioning=_conditioning(kind, fusion))
    B, n, H = 5, policy.n_obs, policy.horizon
    cond = torch.as_tensor(np.stack([policy.condition_input(task=t).array for t in ["go-left", "go-right"] * 3][:B]))
    cond = cond[:, None].expand(B, n, *cond.shape[1:])
    obs = {"state": torch.randn(B, n, 2), CONDITION_KEY: cond}
    assert policy.obs_keys == ["state", CONDITION_KEY]
    feats = policy.obs_features(obs)
    assert feats.shape == (B, n, policy.obs_dim)
    assert policy.obs_dim == 2 + (8 if fusion == "concat" else 0)
    batch = Batch(obs, torch.zeros(B, H, 2), torch.zeros(B, H, dtype=torch.bool), torch.ones(B))
    loss, _ = policy.compute_loss(batch)
    loss.backward()
    grads = [p.grad for p in policy.condition_fusion.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)  # the embedding is trained by every head
    policy.eval()
    assert policy.predict_chunk(obs).shape == (B, H, 2)


def _act(actor, x):
    actor.reset()
    return actor.act({"state": np.asarray(x, np.float32)})


@pytest.mark.parametrize("head,kind,seeds", [
    ("mlp", "task", (0,)),
    pytest.param("mlp", "task", (1, 2), marks=pytest.mark.slow),
    pytest.param("chunked", "task", (0, 1), marks=pytest.mark.slow),
    pytest.param("mlp", "instruction", (0, 1), marks=pytest.mark.slow)])
def test_only_the_task_says_which_way_and_it_is_learned(head, kind, seeds):
    """Both tasks show the same observations; an unconditioned policy can only average (0 on dim 0).
    Measured: the largest miss was below 0.1 for every seed and head here; the bar is 0.3."""
    fields = {**SMALL[head], "hidden_dims": (64, 64)}
    misses = []
    for seed in seeds:
        res = train_bc(_dataset(seed=seed), head, fields, TrainConfig(steps=200, eval_every=200, seed=seed, val_fraction=0.2,
                                                                      warmup_steps=20, batch_size=64, threads=1),
                       # without word dropout: its cost on the whole instruction needs more than 200 steps
                       # here (tests/policies/test_word_dropout.py)
                       conditioning=ConditioningConfig(kind=kind, embed_dim=8, word_dropout=0.0))
        xs = np.random.default_rng(5).uniform(-1, 1, (10, 2))
        for task, sign in (("go-left", -1), ("go-right", 1)):
            actor = PolicyActor(res.policy, task=task)
            got = np.array([_act(actor, x)[0] for x in xs])
            misses.append(float(np.abs(got - 0.8 * sign).max()))
    assert max(misses) < 0.3, misses  # an averaging policy misses by 0.8


def test_vocabulary_in_checkpoint_and_unknown_task_refused(tmp_path):
    res = train_bc(_dataset(2), "mlp", {"hidden_dims": (16,)}, TrainConfig(steps=20, eval_every=20, threads=1),
                   out=tmp_path / "ck", conditioning=ConditioningConfig(kind="task", embed_dim=4))
    loaded = load_checkpoint(tmp_path / "ck")
    assert loaded.conditioning.tasks == ["go-left", "go-right"]
    assert loaded.conditioning.instructions == TASKS
    x = np.array([0.3, -0.2], np.float32)
    for task in TASKS:
        np.testing.assert_allclose(_act(PolicyActor(loaded, task=task), x), _act(PolicyActor(res.policy, task=task), x),
                                   atol=1e-6)
    with pytest.raises(ProtegeError) as e:
        PolicyActor(loaded, task="go-up")
    msg = str(e.value)
    assert "\n" not in msg and "go-up" in msg and "go-left" in msg
    with pytest.raises(ProtegeError, match="expected a task name or an instruction"):
        PolicyActor(loaded)
    # a training instruction names its task; other wording needs an instruction-conditioned policy
    assert PolicyActor(loaded, instruction="move to the right").condition.text == "go-right"
    with pytest.raises(ProtegeError, match="--condition instruction"):
        PolicyActor(loaded, instruction="go right please")


def test_unseen_instruction_is_accepted_and_reported():
    cfg = _conditioning("instruction")
    seen = condition_input(cfg, instruction="move to the left")
    assert seen.seen and "seen in training" in seen.describe()
    other = condition_input(cfg, instruction="Move, slowly, to the LEFT!")
    assert not other.seen and other.unseen_words == ["slowly"]
    assert "unseen" in other.describe() and "slowly" in other.describe()
    # unknown words are left out: the paraphrase reads as the known words it shares
    known = set(other.array[other.array > 1].tolist())
    assert known == set(seen.array[seen.array > 1].tolist())
    by_task = condition_input(cfg, task="go-left")
    np.testing.assert_array_equal(by_task.array, seen.array)


def test_a_frozen_text_encoder_plugs_into_the_same_seam(tmp_path):
    cfg = ConditioningConfig(kind="embedding", embed_dim=4,
                             text_encoder="protege.policies.encoders.conditioning:HashingTextEncoder",
                             text_encoder_arg="16")
    res = train_bc(_dataset(2), "mlp", {"hidden_dims": (16,)}, TrainConfig(steps=10, eval_every=10, threads=1),
                   out=tmp_path / "ck", conditioning=cfg)
    assert res.policy.conditioning.text_dim == 16
    loaded = load_checkpoint(tmp_path / "ck")
    actor = PolicyActor(loaded, instruction="head left")
    np.testing.assert_allclose(actor.condition.array, HashingTextEncoder(16).encode(["head left"])[0])
    assert not actor.condition.seen
    with pytest.raises(ProtegeError, match="text_encoder"):
        ConditioningConfig(kind="embedding")


def test_untagged_episodes_refused_for_a_conditioned_policy():
    ds = _dataset(1)
    ds.episodes[1] = Episode(observations=ds.episodes[1].observations, actions=ds.episodes[1].actions, info={"seed": 0})
    with pytest.raises(ProtegeError, match="info.task"):
        train_bc(ds, "mlp", None, TrainConfig(steps=2, threads=1), conditioning=ConditioningConfig(kind="task"))


def test_unconditioned_checkpoint_unchanged(tmp_path):
    """A single-task policy has no conditioning entry and no new tensors (old checkpoints still load)."""
    policy = make_policy("mlp", {"hidden_dims": (8,)}, SPEC, None)
    save_checkpoint(policy, tmp_path / "ck")
    import json

    cfg = json.loads((tmp_path / "ck/config.json").read_text())
    assert "conditioning" not in cfg and policy.obs_keys == ["state"]
    assert not any("condition" in k for k in policy.state_dict())
    assert PolicyActor(load_checkpoint(tmp_path / "ck"), task="anything").condition is None
