"""The DAgger run folder, per-round accounting and the training view of aggregated data.

    RUN/
      config.json          the run's configuration; a resumed run must match it (rounds may grow)
      data/                native dataset: the initial demonstrations (round 0) and every collected
                           episode (its info names its round), appended one atomic file at a time
      rounds/round_000/    the learner trained after each round (one checkpoint, or member_<i>/ each)
      rounds.json          one record per finished round: expert labels, interventions, success ...

A round is recorded only after its learner is trained and evaluated, so an interrupted run resumes from
the last record: episodes already collected for the unfinished round are kept and only the missing ones
are collected (episode seeds are fixed by round and index, so the result is the same).

Labels: episodes store the executed action in `actions` and the expert's action in `labels` where it
was asked (`label_mask`). Training sees only labelled steps: each run of consecutive labelled steps
becomes one training segment whose actions are the expert's labels, never the executed actions.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from protege.data.episode import SOURCE_EXPERT, Episode
from protege.data.native import Dataset, NoEpisodesError, load_dataset, write_json
from protege.errors import ProtegeError, bad_input

# Seeds of collected episodes live apart from recording (0 ..) and evaluation (1_000_000 ..) seeds.
ROUND_SEED_OFFSET = 2_000_000
RESUMABLE_FIELDS = ("rounds",)  # a resumed run may ask for more rounds; anything else must match


def round_seeds(seed: int, round_index: int, episodes_per_round: int) -> list[int]:
    """Episode seeds of round `round_index` (1-based)."""
    base = ROUND_SEED_OFFSET + seed * 10_000 + (round_index - 1) * episodes_per_round
    return list(range(base, base + episodes_per_round))


class RunFolder:
    def __init__(self, root: str | Path, config: dict[str, Any], resume: bool = True):
        self.root = Path(root)
        self.data_dir = self.root / "data"
        self.records_path = self.root / "rounds.json"
        config = json.loads(json.dumps(config))  # compare as stored (tuples become lists)
        cfg_path = self.root / "config.json"
        if cfg_path.exists():
            if not resume:
                raise ProtegeError(f"{self.root}: expected a new folder, found an existing DAgger run "
                                   f"(run again without --no-resume to continue it, or choose another --out)")
            old = json.loads(cfg_path.read_text())
            for key, value in config.items():
                # A key the stored config lacks is an option added after the run began: nothing to compare.
                if key not in RESUMABLE_FIELDS and key in old and old[key] != value:
                    raise bad_input(cfg_path, key, f"{old[key]!r} to resume this run",
                                    f"{value!r} (choose another --out for a different run)")
        elif self.root.exists() and any(self.root.iterdir()):
            raise bad_input(self.root, None, "an empty or new folder for the run", "other files")
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(cfg_path, config)

    def round_dir(self, round_index: int) -> Path:
        return self.root / "rounds" / f"round_{round_index:03d}"

    def records(self) -> list[dict[str, Any]]:
        if not self.records_path.exists():
            return []
        try:
            return list(json.loads(self.records_path.read_text()))
        except json.JSONDecodeError as e:
            raise bad_input(self.records_path, None, "valid JSON", f"malformed JSON ({e})") from None

    def save_record(self, record: dict[str, Any]) -> None:
        records = [r for r in self.records() if r["round"] < record["round"]]
        write_json(self.records_path, records + [record])

    def episodes(self) -> list[Episode]:
        """Every stored episode (demonstrations and collected), in the order they were written."""
        if not (self.data_dir / "meta.json").exists():
            return []
        try:
            return load_dataset(self.data_dir).episodes
        except NoEpisodesError:
            return []


def with_round(ep: Episode, round_index: int) -> Episode:
    return dataclasses.replace(ep, info={**ep.info, "round": int(round_index)})


def episode_round(ep: Episode) -> int:
    return int(ep.info.get("round", 0))


def label_mask(ep: Episode) -> np.ndarray:
    """(T,) bool: steps carrying an expert label. Demonstrations without labels count as labelled
    throughout when the expert (or a person) acted on every step."""
    if ep.labels is not None:
        return ep.label_mask
    return np.ones(len(ep), bool)


def training_segments(episodes: list[Episode]) -> list[Episode]:
    """Each run of consecutive labelled steps as its own episode, with the expert's labels as actions."""
    out = []
    for ep in episodes:
        mask = label_mask(ep)
        targets = ep.targets
        obs = ep.step_observations()
        edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
        for a, b in zip(edges[::2], edges[1::2]):
            out.append(Episode(
                observations={k: v[a:b] for k, v in obs.items()}, actions=targets[a:b], success=ep.success,
                source=None if ep.source is None else ep.source[a:b],
                intervened=None if ep.intervened is None else ep.intervened[a:b],
                info={**ep.info, "segment_start": int(a)}, origin=ep.origin))
    return out


def training_view(episodes: list[Episode], spec: Any, task: str, path: Path | None) -> Dataset:
    return Dataset(training_segments(episodes), spec, meta={"task": task}, path=path)


def iwr_weights(weight: float) -> Callable[[Episode], np.ndarray] | None:
    """Intervention-weighted regression: intervention steps count `weight` times in the loss."""
    if weight == 1.0:
        return None

    def weights(ep: Episode) -> np.ndarray:
        if ep.intervened is None:
            return np.ones(len(ep), np.float32)
        return np.where(ep.intervened, weight, 1.0).astype(np.float32)

    return weights


def _runs(mask: np.ndarray) -> int:
    """Number of maximal runs of True in a (T,) bool mask."""
    m = np.asarray(mask, bool)
    return int(m[0]) + int(np.sum(m[1:] & ~m[:-1])) if len(m) else 0


def round_accounting(episodes: list[Episode]) -> dict[str, Any]:
    """Expert labels, interventions, expert-controlled steps, context switches of a round's episodes."""
    labels = sum(int(label_mask(e).sum()) for e in episodes)
    interventions = sum(_runs(e.intervened) for e in episodes if e.intervened is not None)
    expert_steps = sum(int(np.sum(e.source != 1)) if e.source is not None else len(e) for e in episodes)
    switches = sum(int(np.sum(e.source[1:] != e.source[:-1])) for e in episodes if e.source is not None)
    steps = sum(len(e) for e in episodes)
    return {"episodes": len(episodes), "env_steps": steps, "expert_labels": labels, "interventions": interventions,
            "expert_steps": expert_steps, "context_switches": switches,
            "collect_successes": sum(int(e.success) for e in episodes)}


def records_table(records: list[dict[str, Any]]) -> str:
    """Per-round records as a markdown table."""
    lines = ["| round | expert labels (round / total) | interventions | expert steps | context switches "
             "| env steps | success [95% CI] |", "|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['round']} | {r['expert_labels']} / {r['total_labels']} | {r['interventions']} | "
                     f"{r['expert_steps']} | {r['context_switches']} | {r['env_steps']} | "
                     f"{r['successes']}/{r['eval_episodes']} = {100 * r['success_rate']:.0f}% "
                     f"[{100 * r['ci_low']:.0f}, {100 * r['ci_high']:.0f}] |")
    return "\n".join(lines)


__all__ = ["records_table", "RunFolder", "round_seeds", "training_view", "training_segments", "round_accounting", "iwr_weights",
           "with_round", "episode_round", "SOURCE_EXPERT"]
