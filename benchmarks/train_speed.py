"""Training throughput of `train_bc` against a bare loop on pre-built batches (the data path's overhead).

Both run the same model (`mlp`, default config), batch size, optimiser, schedule and gradient clipping on
the same dataset in this process, interleaved (bare, protege, bare, protege, ...) so that machine noise
hits both alike; the figure is the ratio of median samples/s. The bare loop's batches are gathered before
timing starts, so it measures only forward/backward/step; `train_bc` also samples indices, gathers
windows, validates every `eval_every` steps and keeps the best weights.

    python benchmarks/train_speed.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from _common import bare_loop_samples_per_second, write_outputs  # noqa: E402

from protege.algos.bc import TrainConfig, train_bc  # noqa: E402
from protege.data.native import load_dataset  # noqa: E402
from protege.data.stats import compute_stats  # noqa: E402
from protege.data.windows import EpisodeDataset  # noqa: E402
from protege.policies import make_policy  # noqa: E402
from protege.recording import record_expert  # noqa: E402

STEPS, REPEATS = 1000, 5


def bare_loop(dataset, config: TrainConfig) -> float:
    torch.manual_seed(config.seed)
    policy = make_policy("mlp", None, dataset.spec, compute_stats(dataset.episodes))
    data = EpisodeDataset(dataset.episodes)
    gen = torch.Generator().manual_seed(0)
    batches = [data.batch(torch.randint(len(data), (config.batch_size,), generator=gen)) for _ in range(STEPS)]
    return bare_loop_samples_per_second(policy, batches, config)


def main() -> None:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    work = Path(tempfile.mkdtemp(prefix="train_speed_"))
    record_expert("metaworld/pick-place", 50, work / "data", seed=0, workers=2)
    dataset = load_dataset(work / "data")
    config = TrainConfig(steps=STEPS, seed=0)
    bare, ours = [], []
    for r in range(REPEATS):
        bare.append(bare_loop(dataset, config))
        ours.append(train_bc(dataset, "mlp", None, config, out=work / f"ck{r}").samples_per_second)
        print(f"repeat {r}: bare {bare[-1]:,.0f} samples/s, protege train {ours[-1]:,.0f} samples/s", flush=True)
    b, o = statistics.median(bare), statistics.median(ours)
    ratio = o / b
    md = "\n".join([
        "# Training throughput: `protege train` against a bare loop", "",
        f"`python benchmarks/train_speed.py`: policy `mlp` (default), batch {config.batch_size}, {STEPS} steps, "
        f"pick-place 50 demos ({dataset.num_steps} samples), {REPEATS} interleaved repeats, median; "
        f"torch threads {torch.get_num_threads()}. protege's figure includes index sampling, window gathering, "
        f"validation every {config.eval_every} steps and best-checkpoint saving.", "",
        "| loop | samples/s (median) | per repeat |", "|---|---|---|",
        f"| bare (pre-built batches) | {b:,.0f} | {', '.join(f'{x:,.0f}' for x in bare)} |",
        f"| protege train | {o:,.0f} | {', '.join(f'{x:,.0f}' for x in ours)} |", "",
        f"**Ratio protege / bare: {ratio:.3f}** (goal: at least 0.90).", ""])
    write_outputs("train_speed", {"bare_samples_per_s": bare, "protege_samples_per_s": ours, "ratio": ratio,
                                  "steps": STEPS, "batch_size": config.batch_size}, md)


if __name__ == "__main__":
    main()
