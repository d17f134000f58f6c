"""Scaling beyond one process: rollout executors (this process, worker processes, Ray) and data-parallel
training helpers (torch.distributed: torchrun, DistributedDataParallel).

Ray is imported only when an executor for it is asked for; torch.distributed only when training runs on
more than one rank.
"""

from protege.distributed.executor import (EpisodeJob, Executor, FunctionJob, LocalExecutor, ProcessExecutor,
                                          make_executor)

__all__ = ["EpisodeJob", "Executor", "FunctionJob", "LocalExecutor", "ProcessExecutor", "make_executor"]
