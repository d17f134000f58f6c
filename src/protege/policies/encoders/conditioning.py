"""Task and instruction conditioning: what to do, as one more input to the observation encoder.

One policy, many tasks. A conditioned policy reads, beside its observations, a per-episode *condition*
under the observation key `condition` (so the controller stacks it with the history, a batch carries it
like any key, and no head has code for it):

- `kind="task"`: the index of the episode's task name in the checkpoint's vocabulary, int64 ();
  a learned embedding table maps it to a vector;
- `kind="instruction"`: the instruction's word ids (`max_tokens`,) int64 (0 = padding, 1 = a word the
  vocabulary lacks); a learned word embedding, averaged over the known words, then a small MLP. It needs
  no pretrained weights and nothing downloaded; an unseen instruction is accepted and reported as unseen;
  `word_dropout` hides random words of the training instructions (training mode only, `drop_words`);
- `kind="embedding"`: a frozen text encoder the user has on disk (`text_encoder="pkg.module:factory"`,
  called with `text_encoder_arg`; its object's `encode(list[str]) -> (N, D)` float array) embeds the
  instruction once per episode; a small MLP maps (D,) to the embedding. `HashingTextEncoder` is a
  weight-free example that follows that protocol.

The (B, n_obs, E) embedding enters the features by `fusion`: "concat" appends it to each step's
observation features (the heads size themselves from the wider `obs_dim`), "film" scales and shifts the
features, feature-wise (x * (1 + gamma(e)) + beta(e), zero-initialised so training starts from the plain
features). Both sit after the image encoders, so the seam does not care whether cameras fed it.

`ConditioningConfig` holds the vocabulary (task names, their training instructions, the words) and is
stored in the checkpoint (and in an exported file's metadata), so a policy knows what it can be asked.
It and `condition_input` (name or instruction -> condition) live in the torch-free `protege.vocabulary`,
so an exported policy maps names exactly as this one does. It does not know about datasets on disk:
`vocabulary_from_episodes` builds the config from episodes' `info["task"]` / `info["instruction"]`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from protege.errors import bad_input
# the vocabulary and the name -> condition mapping are torch-free (an exported policy uses them on a robot
# computer); they are imported here so this module stays the one place the seam is read from
from protege.vocabulary import (CONDITION_KEY, FUSIONS, KINDS, PAD, UNK, ConditionInput, ConditioningConfig,
                                HashingTextEncoder, TextEncoder, condition_input, load_text_encoder, tokenize)

__all__ = ["CONDITION_KEY", "FUSIONS", "KINDS", "PAD", "UNK", "ConditionInput", "ConditioningConfig",
           "HashingTextEncoder", "TextEncoder", "condition_input", "load_text_encoder", "tokenize",
           "vocabulary_from_episodes", "episode_condition", "drop_words", "Conditioner", "FiLM", "ConditionFusion"]


def vocabulary_from_episodes(config: ConditioningConfig, episodes: list[Any], where: str = "dataset") -> ConditioningConfig:
    """`config` with its vocabulary filled from episodes' tags: `info["task"]` (required) and
    `info["instruction"]` (the task string itself where an episode has none, as in LeRobot datasets whose
    `task` is the instruction). Refuses, in one line, an untagged episode or two instructions for a task.

    A config that already has a vocabulary (a trained policy's, e.g. a warm start) keeps it unchanged, so
    its weights keep their meaning: every episode must then be one of its tasks, with the instruction it
    was trained with (refused in one line otherwise)."""
    if not config.enabled:
        return config
    trained = bool(config.tasks)
    instructions: dict[str, str] = dict(config.instructions) if trained else {}
    for i, e in enumerate(episodes):
        task = e.info.get("task")
        if not isinstance(task, str) or not task:
            raise bad_input(e.origin or f"{where} episode {i}", "info.task",
                            f"a task name for --conditioning {config.kind}", repr(task))
        if trained and task not in instructions:
            raise bad_input(e.origin or f"{where} episode {i}", "info.task",
                            f"one of the policy's trained tasks {config.tasks}", repr(task))
        text = e.info.get("instruction") or task
        if instructions.setdefault(task, text) != text:
            raise bad_input(e.origin or f"{where} episode {i}", "info.instruction",
                            f"one instruction per task ({instructions[task]!r} for {task})", repr(text))
    if trained:
        return config
    words = sorted({w for t in instructions.values() for w in tokenize(t)})
    text_dim = config.text_dim
    if config.kind == "embedding":
        text_dim = int(load_text_encoder(config).encode(["probe"]).shape[1])
    return ConditioningConfig(**{**config.__dict__, "tasks": sorted(instructions), "instructions": instructions,
                                 "words": words, "text_dim": text_dim})


def episode_condition(config: ConditioningConfig, episode: Any, encoder: TextEncoder | None = None) -> np.ndarray:
    """(T, ...) condition of a training episode, from its tags (see `vocabulary_from_episodes`)."""
    task = episode.info["task"]
    one = condition_input(config, task=task, instruction=config.instructions[task], encoder=encoder).array
    return np.broadcast_to(one, (len(episode), *one.shape)).copy()


class Conditioner(nn.Module):
    """condition (B, n_obs, ...) -> embedding (B, n_obs, embed_dim); see the module docstring.
    The condition is constant within an episode, so the last step's is embedded and repeated."""

    def __init__(self, config: ConditioningConfig):
        super().__init__()
        self.kind, E = config.kind, config.embed_dim
        self.word_dropout = config.word_dropout
        if config.kind == "task":
            self.table = nn.Embedding(max(len(config.tasks), 1), E)
            nn.init.normal_(self.table.weight, std=1.0)
        elif config.kind == "instruction":
            self.words = nn.Embedding(len(config.words) + 2, E, padding_idx=PAD)
            self.mix = nn.Sequential(nn.Linear(E, E), nn.GELU(), nn.Linear(E, E))
        else:
            self.mix = nn.Sequential(nn.Linear(max(config.text_dim, 1), E), nn.GELU(), nn.Linear(E, E))

    def forward(self, condition: torch.Tensor) -> torch.Tensor:
        n_obs = condition.shape[1]
        last = condition[:, -1]
        if self.kind == "task":
            emb = self.table(last.long())
        elif self.kind == "instruction":
            ids = last.long()
            if self.training and self.word_dropout > 0:
                ids = drop_words(ids, self.word_dropout)
            known = (ids > UNK).float()[..., None]  # padding and unknown words carry no meaning
            pooled = (self.words(ids) * known).sum(1) / known.sum(1).clamp_min(1.0)
            emb = self.mix(pooled)
        else:
            emb = self.mix(last.float())
        return emb[:, None].expand(-1, n_obs, -1)


def drop_words(ids: torch.Tensor, p: float) -> torch.Tensor:
    """ids (B, max_tokens) int64 -> the same with each known word replaced by UNK with probability p; a row
    that would lose every known word keeps its first one (an instruction is never emptied)."""
    known = ids > UNK
    drop = (torch.rand(ids.shape, device=ids.device) < p) & known
    emptied = (known & ~drop).sum(1) == 0
    if emptied.any():
        first = torch.zeros_like(known)
        first[torch.arange(len(ids), device=ids.device), known.float().argmax(1)] = True
        drop &= ~(first & emptied[:, None])
    return ids.masked_fill(drop, UNK)


class FiLM(nn.Module):
    """features (B, n_obs, D), embedding (B, n_obs, E) -> features * (1 + gamma) + beta, zero-initialised."""

    def __init__(self, embed_dim: int, feature_dim: int):
        super().__init__()
        self.proj = nn.Linear(embed_dim, 2 * feature_dim)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, feats: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.proj(emb).chunk(2, dim=-1)
        return feats * (1 + gamma) + beta


class ConditionFusion(nn.Module):
    """The whole seam: (features (B, n_obs, D), condition (B, n_obs, ...)) -> (B, n_obs, out_dim) with
    out_dim = D + embed_dim ("concat") or D ("film")."""

    def __init__(self, config: ConditioningConfig, feature_dim: int):
        super().__init__()
        self.fusion = config.fusion
        self.embed = Conditioner(config)
        self.film = FiLM(config.embed_dim, feature_dim) if config.fusion == "film" else None
        self.out_dim = feature_dim + (config.embed_dim if config.fusion == "concat" else 0)

    def forward(self, feats: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        emb = self.embed(condition)
        if self.film is not None:
            return self.film(feats, emb)
        return torch.cat([feats, emb.to(feats.dtype)], dim=-1)
