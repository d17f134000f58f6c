"""Look at the data: a dataset and run viewer in the browser, a self-contained HTML export, a Rerun export.

    from protege.viewer import ViewerServer, serve, write_static, write_rerun
    serve("runs/pp")                              # http://127.0.0.1:8765/ until Ctrl-C
    with ViewerServer("runs/pp", port=0) as s:    # on a background thread; s.url
        ...
    write_static("runs/dagger-pp", "dagger.html") # one file to share
    write_rerun("runs/pp", "pp.rrd")              # needs rerun-sdk (the [rerun] extra)

Reads every dataset format protege reads and the folders its commands write (checkpoints, DAgger and
RL/DAPG runs, evaluation results); never writes into them. Imports no torch and no simulator.
"""

from protege.viewer.api import ViewerApi
from protege.viewer.kinds import detect_kind
from protege.viewer.rerun_export import write_rerun
from protege.viewer.server import ViewerServer, serve
from protege.viewer.static import write_static

__all__ = ["ViewerApi", "ViewerServer", "detect_kind", "serve", "write_rerun", "write_static"]
