"""Damaged or hand-edited checkpoints fail in one line naming the file and field, and saving is atomic."""

import json

import pytest
import torch

import protege.checkpoint as checkpoint
from protege.checkpoint import load_checkpoint, save_checkpoint
from protege.data import compute_stats
from protege.data.atomic import aside_path
from protege.errors import ProtegeError
from protege.policies import MLPConfig, make_policy
from protege.specs import ArraySpec, Spec

SPEC = Spec({"state": ArraySpec((3,))}, ArraySpec((2,), low=[-1, -1], high=[1, 1]))


@pytest.fixture
def policy(make_episode):
    torch.manual_seed(0)
    stats = compute_stats([make_episode(T=20, seed=i) for i in range(3)])
    return make_policy("mlp", MLPConfig(hidden_dims=(16,)), SPEC, stats)


def _edit_config(path, edit):
    cfg = json.loads((path / "config.json").read_text())
    edit(cfg)
    (path / "config.json").write_text(json.dumps(cfg))


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def edit(cfg):
        d = cfg
        for k in keys[:-1]:
            d = d[k]
        if value is KeyError:
            del d[keys[-1]]
        else:
            d[keys[-1]] = value
    return edit


@pytest.mark.parametrize("edit, message", [
    (_set("spec", "observation", "state", "shape", "[3]"),
     r"config\.json: field 'spec\.observation\.state\.shape': expected a list of non-negative integers, found '\[3\]'"),
    (_set("spec", "action", KeyError), r"config\.json: field 'spec\.action': expected an action array spec, found it missing"),
    (_set("spec", "observation", [1, 2]), r"config\.json: field 'spec\.observation': expected a non-empty object"),
    (_set("spec", "action", "low", [0.0]), r"config\.json: field 'spec\.action\.low': expected a list of 2 numbers"),
    (_set("stats", [1, 2, 3]), r"config\.json: field 'stats': expected an object of key -> \{mean, std, min, max\}, found list"),
    (_set("stats", "observation.state", "mean", [0.0]), r"config\.json: field 'stats\.observation\.state\.mean': expected a list of 3 numbers, found 1 values"),
    (_set("stats", "action", KeyError), r"config\.json: field 'stats\.action': expected an object with min, max, found it missing"),
    (_set("policy_config", "hidden_dims", "wide"), r"config\.json: field 'policy_config'"),
    (_set("policy_config", [16]), r"config\.json: field 'policy_config': expected an object of config fields, found list"),
])
def test_bad_config_fields_are_one_line(tmp_path, policy, edit, message):
    save_checkpoint(policy, tmp_path / "ck")
    _edit_config(tmp_path / "ck", edit)
    with pytest.raises(ProtegeError, match=message) as e:
        load_checkpoint(tmp_path / "ck")
    assert "\n" not in str(e.value)


def test_observation_size_disagreeing_with_weights_names_the_tensor(tmp_path, policy):
    save_checkpoint(policy, tmp_path / "ck")

    def widen(cfg):
        cfg["spec"]["observation"]["state"]["shape"] = [5]
        for field in ("mean", "std", "min", "max"):
            cfg["stats"]["observation.state"][field] = [0.0] * 5
    _edit_config(tmp_path / "ck", widen)
    with pytest.raises(ProtegeError, match=r"model\.safetensors: field 'obs_normalizer\.shift': "
                                           r"expected shape \[5\] \(as config\.json describes\), found shape \[3\]"):
        load_checkpoint(tmp_path / "ck")


def test_absurd_hidden_dims_are_refused_before_allocating(tmp_path, policy, monkeypatch):
    save_checkpoint(policy, tmp_path / "ck")
    _edit_config(tmp_path / "ck", _set("policy_config", "hidden_dims", [10**9, 10**9]))
    built = []
    real = checkpoint.make_policy
    monkeypatch.setattr(checkpoint, "make_policy", lambda *a, **k: built.append(torch.empty(0).device) or real(*a, **k))
    with pytest.raises(ProtegeError, match=r"model\.safetensors: field '.*weight': expected shape \[1000000000, .*found shape"):
        load_checkpoint(tmp_path / "ck")
    assert built == [torch.device("meta")]  # only the memory-free skeleton was built


def test_weights_missing_a_tensor_are_named(tmp_path, policy):
    from safetensors.torch import load_file, save_file

    save_checkpoint(policy, tmp_path / "ck")
    state = load_file(str(tmp_path / "ck" / "model.safetensors"))
    name = sorted(state)[0]
    del state[name]
    save_file(state, str(tmp_path / "ck" / "model.safetensors"))
    with pytest.raises(ProtegeError, match=rf"field '{name}': expected a tensor of shape .*found no such tensor"):
        load_checkpoint(tmp_path / "ck")


def test_crash_during_first_save_leaves_no_folder(tmp_path, policy, monkeypatch):
    def crash(*a, **k):
        raise KeyboardInterrupt("killed")
    monkeypatch.setattr(checkpoint, "write_json", crash)  # weights written, then killed before config.json
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(policy, tmp_path / "ck")
    assert not (tmp_path / "ck").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_crash_during_update_keeps_the_old_checkpoint(tmp_path, policy, monkeypatch):
    save_checkpoint(policy, tmp_path / "ck", {"step": 1})
    (tmp_path / "ck" / "notes.txt").write_text("mine")
    with torch.no_grad():
        for p in policy.parameters():
            p.add_(1.0)
    monkeypatch.setattr(checkpoint, "write_json", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(policy, tmp_path / "ck", {"step": 2})
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "ck").checkpoint_config["step"] == 1
    save_checkpoint(policy, tmp_path / "ck", {"step": 2})  # a later save replaces it, keeping other files
    loaded = load_checkpoint(tmp_path / "ck")
    assert loaded.checkpoint_config["step"] == 2 and (tmp_path / "ck" / "notes.txt").read_text() == "mine"
    torch.testing.assert_close(loaded.state_dict(), policy.state_dict())


def test_crash_between_the_renames_recovers_the_aside_copy(tmp_path, policy):
    save_checkpoint(policy, tmp_path / "ck", {"step": 1})
    (tmp_path / "ck").rename(aside_path(tmp_path / "ck"))  # the old one moved aside, the new not yet in
    assert load_checkpoint(tmp_path / "ck").checkpoint_config["step"] == 1
    save_checkpoint(policy, tmp_path / "ck", {"step": 2})
    assert load_checkpoint(tmp_path / "ck").checkpoint_config["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]
