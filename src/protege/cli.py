"""`protege <verb>`: the command line, generated from config dataclasses with tyro.

Each verb is one module in `protege/commands/` that defines `Args` (a dataclass; its fields and their
docstrings become the flags) and `run(args)`. A module may define `make_args(argv)` to shape `Args` from
the command line itself (e.g. `train` adds the chosen policy's config). New verbs need no edit here.

Errors caused by the user's input print one line and exit with status 2; `--debug` shows the traceback.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from types import ModuleType
from typing import Annotated, Any, Union

from protege.errors import ProtegeError


def _command_modules() -> dict[str, ModuleType]:
    import protege.commands as pkg

    mods = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"protege.commands.{info.name}")
        mods[getattr(mod, "NAME", info.name)] = mod
    return mods


def main(argv: list[str] | None = None) -> int:
    import tyro

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    mods = _command_modules()
    verb = next((a for a in argv if not a.startswith("-")), None)
    types: list[Any] = []
    modules_by_type: dict[type, ModuleType] = {}
    for name, mod in mods.items():
        args_type = mod.make_args(argv) if (name == verb and hasattr(mod, "make_args")) else mod.Args
        modules_by_type[args_type] = mod
        doc = (mod.__doc__ or "").strip().splitlines()[0] if mod.__doc__ else None
        types.append(Annotated[args_type, tyro.conf.subcommand(name, description=doc)])
    try:
        args = tyro.cli(Union[tuple(types)], args=argv, prog="protege",  # type: ignore[arg-type]
                        description="protege: teaching robots by demonstration. Add --debug for tracebacks.")
        result = modules_by_type[type(args)].run(args)
        return int(result or 0)
    except ProtegeError as e:
        if debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print("interrupted: everything saved before the interrupt is kept", file=sys.stderr)
        return 130


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
