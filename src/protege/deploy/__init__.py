"""Deployment: the Robot protocol, the fixed-rate runner with safety limits, chunk execution, export.

Imports neither training code nor simulators: a robot computer installs what acting needs. The
simulated robot lives with the tasks (`protege.envs.sim_robot`) and is handed to the runner. `export`
(which needs torch) is imported explicitly: `from protege.deploy.export import export_policy`.
"""

from protege.deploy.inference import ChunkExecutor, ExportedPredictor, TorchPredictor
from protege.deploy.robot import TIMESTAMP_KEY, Robot
from protege.deploy.runner import DeployConfig, DeployReport, run_deployment
from protege.deploy.safety import SafetyConfig, SafetyFilter, SafetyStop

__all__ = ["ChunkExecutor", "ExportedPredictor", "TorchPredictor", "Robot", "TIMESTAMP_KEY", "DeployConfig",
           "DeployReport", "run_deployment", "SafetyConfig", "SafetyFilter", "SafetyStop"]
