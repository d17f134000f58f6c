"""Episodes, datasets (native format and plain .npz folders), normalisation and training windows.

Loads without a simulator or a model.
"""

from protege.data.episode import SOURCE_EXPERT, SOURCE_HUMAN, SOURCE_POLICY, Episode
from protege.data.native import Dataset, DatasetWriter, load_dataset, read_episode, save_dataset
from protege.data.stats import array_stats, compute_stats

_TORCH_NAMES = {"Normalizer": "protege.data.normalizer", "Batch": "protege.data.windows",
                "EpisodeDataset": "protege.data.windows", "split_by_episode": "protege.data.windows"}
"""Names whose modules import torch: imported on first use, so reading data (`protege view`, convert,
info) does not pay torch's import."""


def __getattr__(name: str):
    if name in _TORCH_NAMES:
        import importlib

        return getattr(importlib.import_module(_TORCH_NAMES[name]), name)
    raise AttributeError(f"module 'protege.data' has no attribute {name!r}")

__all__ = ["Episode", "Dataset", "DatasetWriter", "load_dataset", "read_episode", "save_dataset", "Normalizer",
           "array_stats", "compute_stats", "Batch", "EpisodeDataset", "split_by_episode", "SOURCE_EXPERT", "SOURCE_HUMAN",
           "SOURCE_POLICY"]
