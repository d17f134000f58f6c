"""Episodes, datasets (native format and plain .npz folders), normalisation and training windows.

Loads without a simulator or a model.
"""

from protege.data.episode import SOURCE_EXPERT, SOURCE_HUMAN, SOURCE_POLICY, Episode
from protege.data.native import Dataset, DatasetWriter, load_dataset, read_episode, save_dataset
from protege.data.normalizer import Normalizer
from protege.data.stats import array_stats, compute_stats
from protege.data.windows import Batch, EpisodeDataset, split_by_episode

__all__ = ["Episode", "Dataset", "DatasetWriter", "load_dataset", "read_episode", "save_dataset", "Normalizer",
           "array_stats", "compute_stats", "Batch", "EpisodeDataset", "split_by_episode", "SOURCE_EXPERT", "SOURCE_HUMAN",
           "SOURCE_POLICY"]
