"""`protege <verb>`: the command line, generated from config dataclasses with tyro.

Each verb is one module in `protege/commands/` that defines `Args` (a dataclass; its fields and their
docstrings become the flags) and `run(args)`. A module may define `make_args(argv)` to shape `Args` from
the command line itself (e.g. `train` adds the chosen policy's config). New verbs need no edit here.

Every failure ends in one line on stderr: input errors (ProtegeError) and bad flags exit with status 2,
anything unexpected with `error: internal: ...` and status 1; `--debug` shows the traceback (or tyro's
full message). `--threads N` sets torch's CPU threads for every verb. Both are taken out of the command
line here, wherever they appear, before tyro sees it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import io
import pkgutil
import re
import sys
from types import ModuleType
from typing import Annotated, Any, Union

from protege.errors import ProtegeError

DESCRIPTION = ("protege: teaching robots by demonstration. Options for every verb: --debug shows tracebacks; "
               "--threads N sets torch's CPU threads (default: the usable cores, at most 4).")


def _command_names() -> list[str]:
    """The verbs, one per module of `protege.commands` (found without importing any of them)."""
    import protege.commands as pkg

    return sorted(i.name for i in pkgutil.iter_modules(pkg.__path__) if not i.name.startswith("_"))


def _command_modules(only: str | None = None) -> dict[str, ModuleType]:
    """verb -> module; with `only`, just that verb's module, so a command imports what it uses and no
    other verb's dependencies (`protege view` starts without torch)."""
    return {name: importlib.import_module(f"protege.commands.{name}")
            for name in _command_names() if only is None or name == only}


def _take_threads(argv: list[str]) -> tuple[list[str], int | None]:
    """Remove `--threads N` / `--threads=N` from argv; returns the rest and N (None when not given)."""
    rest, threads = [], None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--threads" or a.startswith("--threads="):
            if "=" in a:
                value: str | None = a.split("=", 1)[1]
            else:
                value = argv[i + 1] if i + 1 < len(argv) else None
                i += 1
            try:
                threads = int(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ProtegeError(f"--threads: expected an integer >= 1 (0 = the default), "
                                   f"found {'nothing' if value is None else repr(value)}") from None
        else:
            rest.append(a)
        i += 1
    return rest, threads


def _apply_threads(obj: Any, threads: int, depth: int = 0) -> None:
    """Give a verb's own `threads` fields (train's, deploy's, dagger's --train.threads) the global count,
    so that what the verb sets later agrees with --threads."""
    if depth > 2 or not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name == "threads" and isinstance(value, int):
            object.__setattr__(obj, f.name, threads)
        elif dataclasses.is_dataclass(value):
            _apply_threads(value, threads, depth + 1)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_OPTION_LINE = re.compile(r"^ {4}(-[^\s]+)")


def _is_rule(line: str) -> bool:
    return len(line.strip()) >= 3 and set(line.strip()) <= {"─", "-"}


def condense_tyro_error(text: str, verb: str | None) -> str:
    """tyro's boxed, multi-line error as one line: `protege VERB: <what> (see protege VERB --help)`.

    The box is `╭─ Title ─╮`, then `│ ... │` rows in sections split by rules (or, where stdout is not
    UTF-8, the title, a rule of dashes and rows indented by two spaces); rows are wrapped to the terminal
    width, so a section's rows are joined again. Option help texts and the pointer to --help are
    dropped (the one line names the --help to read instead).
    """
    prog = f"protege {verb}" if verb else "protege"
    rows, title = [], ""
    lines = [line.rstrip() for line in _ANSI.sub("", text).splitlines()]
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and lines[0].startswith("╭"):  # UTF-8 box
        title = lines[0].strip("╭╮─ ")
        rows = [line[1:].rstrip("│").rstrip()[1:] for line in lines[1:] if line.startswith("│")]
    elif len(lines) > 1 and _is_rule(lines[1]):  # ASCII box (stdout not UTF-8): title, rule, rows indented by 2
        title = lines[0].strip()
        rows = [line[2:] for line in lines[2:]]
    else:  # not a box: plain text
        rows = lines
    sections: list[list[str]] = [[]]
    for row in rows:
        if _is_rule(row):
            sections.append([])
        else:
            sections[-1].append(row)
    parts = []
    for rows_ in sections:
        first = rows_[0].strip() if rows_ else ""
        if not first or first.startswith(("For full helptext", "Argument helptext", "protege ")):
            continue
        if first.startswith(("Missing from", "Perhaps you meant")):  # option lines; drop their help texts
            options = [m.group(1) for r in rows_ if (m := _OPTION_LINE.match(r))]
            what = "missing required" if first.startswith("Missing") else "perhaps you meant"
            parts.append(f"{what} {', '.join(dict.fromkeys(options))}")
            continue
        joined = " ".join(" ".join(rows_).split())
        joined = re.sub(r"\s*Arguments are applied to the directly preceding subcommand.*$", "", joined)
        joined = joined.replace("__tyro-dummy-inner__.", "").replace("Error parsing __tyro-dummy-inner__: ", "")
        parts.append(joined[:1].lower() + joined[1:])
    if title == "Missing subcommand" and parts:
        parts[0] = f"missing subcommand: {parts[0]}"
    parts = [p.rstrip(".") for p in parts] or [title or "invalid command line"]
    return f"{prog}: {'; '.join(parts)} (see {prog} --help)"


def _one_line(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return (lines[0] + (" ..." if len(lines) > 1 else "")) if lines else "(no message)"


def _discard_bars() -> None:
    """Clear progress bars left open by the failure, so none is drawn after (or over) the error line."""
    from protege.progress import discard_open_bars

    discard_open_bars()


def _parse(target: Any, argv: list[str], verb: str | None, debug: bool, prog: str = "protege",
           description: str = DESCRIPTION) -> Any:
    """tyro.cli, with its error box condensed into one line (a ProtegeError) unless --debug."""
    import tyro

    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            args = tyro.cli(target, args=argv, prog=prog, description=description)
    except SystemExit as e:
        if e.code in (0, None) or debug:  # --help, or --debug: tyro's own output, as it wrote it
            sys.stderr.write(captured.getvalue())
            raise
        raise ProtegeError(condense_tyro_error(captured.getvalue(), verb)) from None
    sys.stderr.write(captured.getvalue())  # warnings tyro printed while parsing
    return args


def main(argv: list[str] | None = None) -> int:
    import tyro

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    try:
        argv, threads = _take_threads(argv)
        verb = next((a for a in argv if not a.startswith("-")), None)
        mods = _command_modules(verb if verb in _command_names() else None)
        types: list[Any] = []
        modules_by_type: dict[type, ModuleType] = {}
        for name, mod in mods.items():
            args_type = mod.make_args(argv) if (name == verb and hasattr(mod, "make_args")) else mod.Args
            modules_by_type[args_type] = mod
            doc = (mod.__doc__ or "").strip().splitlines()[0] if mod.__doc__ else None
            types.append(Annotated[args_type, tyro.conf.subcommand(name, description=doc)])
        if len(mods) == 1:  # one known verb: parse its own flags, the verb taken out of the line
            rest = list(argv)
            rest.remove(verb)
            doc = (mods[verb].__doc__ or "").strip().splitlines()[0] if mods[verb].__doc__ else DESCRIPTION
            args = _parse(next(iter(modules_by_type)), rest, verb, debug, prog=f"protege {verb}", description=doc)
        else:
            args = _parse(Union[tuple(types)], argv, verb if verb in mods else None, debug)  # type: ignore[arg-type]
        from protege.runtime import remember_threads, set_threads

        if "torch" in sys.modules:  # a verb that computes imported it: the library's default, never OMP's
            set_threads(threads)
        else:  # a verb without torch (view, info, convert) does not import it to set a count
            remember_threads(threads)
        if threads is not None:
            _apply_threads(args, threads)
        result = modules_by_type[type(args)].run(args)
        return int(result or 0)
    except ProtegeError as e:
        if debug:
            raise
        _discard_bars()
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print("interrupted: everything saved before the interrupt is kept", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, or a failure nobody foresaw: still one line, the traceback on --debug
        if debug:
            raise
        _discard_bars()
        print(f"error: internal: {type(e).__name__}: {_one_line(e)} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
