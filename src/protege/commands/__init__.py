"""One module per `protege` verb: `Args` (dataclass -> flags) and `run(args)`. See `protege/cli.py`."""
