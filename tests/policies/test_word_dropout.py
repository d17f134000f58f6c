"""Instruction-word dropout: words hidden at training only, never all of them, recorded in the checkpoint,
and a policy trained with it tells the task from one informative word of an instruction it never saw."""

import json
import subprocess

import numpy as np
import pytest
import torch

from protege.algos.bc import TrainConfig, train_bc
from protege.checkpoint import PolicyActor, load_checkpoint
from protege.policies import ConditioningConfig
from protege.policies.encoders.conditioning import PAD, UNK, Conditioner, drop_words, vocabulary_from_episodes

from two_task_data import two_task_dataset  # noqa: E402

# the tasks differ by one word (and its position); every other word is shared
TASKS = {"go-left": "slide the cup to the left", "go-right": "slide the cup to the right"}


def _dataset(episodes_per_task=6, T=20, seed=0):
    return two_task_dataset(episodes_per_task, T, seed, TASKS)


def test_drop_words_hides_known_words_only_and_never_all():
    torch.manual_seed(0)
    ids = torch.tensor([[5, 6, 7, 8, PAD, PAD], [9, UNK, PAD, PAD, PAD, PAD], [4, 5, 6, 7, 8, 9]]).repeat(2000, 1)
    out = drop_words(ids, 0.5)
    assert ((ids <= UNK) <= (out == ids)).all()  # padding and unknown words untouched
    hidden = (out == UNK) & (ids > UNK)
    assert ((out != ids) == hidden).all()  # a word is either kept or read as unknown
    assert ((out > UNK).sum(1) >= 1).all()  # never an empty instruction
    # per row p * n words hidden, less the one word kept where all n were drawn (p ** n): 4, 1 and 6 words
    expected = sum(0.5 * n - 0.5 ** n for n in (4, 1, 6)) / 11
    share = hidden.sum().item() / (ids > UNK).sum().item()
    assert abs(share - expected) < 0.01, (share, expected)
    assert torch.equal(drop_words(ids, 0.0), ids)


def test_only_training_mode_drops():
    cfg = vocabulary_from_episodes(ConditioningConfig(kind="instruction", embed_dim=8, word_dropout=0.5),
                                   _dataset(1).episodes)
    net = Conditioner(cfg)
    ids = torch.as_tensor(np.stack([_ids(cfg, t) for t in TASKS]))[:, None]
    net.eval()
    assert torch.equal(net(ids), net(ids))
    net.train()
    torch.manual_seed(1)
    draws = torch.stack([net(ids) for _ in range(20)])
    assert (draws - draws[0]).abs().max() > 1e-3  # a fresh draw per forward at training


def _ids(cfg, task):
    from protege.vocabulary import condition_input

    return condition_input(cfg, task=task).array


def test_default_is_the_measured_value_for_instructions_and_off_otherwise(tmp_path):
    from protege.vocabulary import DEFAULT_WORD_DROPOUT

    assert DEFAULT_WORD_DROPOUT == 0.3
    assert ConditioningConfig(kind="instruction").word_dropout == DEFAULT_WORD_DROPOUT
    assert ConditioningConfig(kind="instruction", word_dropout=0.0).word_dropout == 0.0
    assert ConditioningConfig(kind="task").word_dropout == 0.0
    # a checkpoint written before the field existed was trained without dropout, and loads saying so
    train_bc(_dataset(1), "mlp", {"hidden_dims": (8,)}, TrainConfig(steps=2, eval_every=2, threads=1),
             out=tmp_path / "ck", conditioning=ConditioningConfig(kind="instruction", embed_dim=4))
    cfg_path = tmp_path / "ck" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    assert cfg["conditioning"]["word_dropout"] == DEFAULT_WORD_DROPOUT
    del cfg["conditioning"]["word_dropout"]
    cfg_path.write_text(json.dumps(cfg))
    assert load_checkpoint(tmp_path / "ck").conditioning.word_dropout == 0.0


def test_word_dropout_is_validated_and_only_for_instructions():
    with pytest.raises(ValueError, match="word_dropout"):
        ConditioningConfig(kind="instruction", word_dropout=1.0)
    with pytest.raises(ValueError, match="word_dropout"):
        ConditioningConfig(kind="task", word_dropout=0.3)


def _train(word_dropout, out=None):
    return train_bc(_dataset(), "mlp", {"hidden_dims": (64, 64)},
                    TrainConfig(steps=600, eval_every=600, seed=0, val_fraction=0.2, warmup_steps=20, batch_size=64,
                                threads=1),
                    out=out,
                    conditioning=ConditioningConfig(kind="instruction", embed_dim=8, word_dropout=word_dropout))


def _miss(policy, instruction, sign):
    """Largest |action[0] - the task's 0.8 * sign| over ten states, acting on `instruction`."""
    actor = PolicyActor(policy, instruction=instruction)
    got = []
    for x in np.random.default_rng(5).uniform(-1, 1, (10, 2)).astype(np.float32):
        actor.reset()
        got.append(actor.act({"state": x})[0])
    return float(np.abs(np.array(got) - 0.8 * sign).max())


# instructions never trained on; each keeps one informative word (the others are shared or unknown)
REWORDINGS = [("left", -1), ("go to the left please", -1), ("right", 1), ("the right one", 1)]


def test_word_dropout_picks_the_task_from_one_informative_word(tmp_path):
    """Measured (seed 0, dropout 0.3): the largest miss on these rewordings was 0.05 (bar 0.3; a policy that
    cannot tell the task misses by 0.8). Without dropout this toy passes too (0.03: mean pooling keeps the
    one informative word's direction), and dropout's cost shows: on the full training instructions the misses
    were 0.12 and 0.40 (0.02 and 0.05 without), since with mean pooling the whole instruction is the most
    diluted of the word subsets it was trained on. The MT10 benchmark measures both sides
    (docs/benchmarks/multitask.md)."""
    _train(0.3, out=tmp_path / "ck")
    assert json.loads((tmp_path / "ck" / "config.json").read_text())["conditioning"]["word_dropout"] == 0.3
    loaded = load_checkpoint(tmp_path / "ck")
    assert loaded.conditioning.word_dropout == 0.3
    misses = [_miss(loaded, text, sign) for text, sign in REWORDINGS]
    assert max(misses) < 0.3, misses


def test_cli_word_dropout_in_config_and_refused_for_task_names(tmp_path, protege_cmd):
    from protege.data.native import save_dataset

    save_dataset(_dataset(2), tmp_path / "ds")
    r = subprocess.run([*protege_cmd, "train", "--data", str(tmp_path / "ds"), "--out", str(tmp_path / "ck"),
                        "--steps", "20", "--mlp.hidden-dims", "16", "--condition", "instruction",
                        "--word-dropout", "0.3"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "ck" / "config.json").read_text())["conditioning"]["word_dropout"] == 0.3
    r = subprocess.run([*protege_cmd, "train", "--data", str(tmp_path / "ds"), "--out", str(tmp_path / "ck2"),
                        "--steps", "20", "--condition", "task", "--word-dropout", "0.3"],
                       capture_output=True, text=True, timeout=600)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "word_dropout" in lines[0] and "0.3" in lines[0], r.stderr
