"""The DAgger family: one collection loop (`loop.py`) with a gate that decides who acts and when the expert
is asked (`gates.py`), a resumable run folder with per-round accounting (`run_folder.py`), learners and
ensembles (`ensemble.py`), and the small classifiers ThriftyDAgger uses (`scalar_model.py`)."""

from protege.algos.dagger.loop import GATES, DaggerConfig, DaggerResult, collect_episode, run_dagger

__all__ = ["GATES", "DaggerConfig", "DaggerResult", "collect_episode", "run_dagger"]
