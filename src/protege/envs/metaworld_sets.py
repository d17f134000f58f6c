"""Meta-World's task sets (MT10, MT50) and a one-sentence instruction for each of its 50 tasks.

`resolve_tasks("metaworld/MT10")` -> the ten registered task names; a comma list of task names
("metaworld/reach,metaworld/push") or a single name resolve to themselves. Recording, evaluation and the
multi-task benchmark ask this one function, so a set means the same tasks everywhere.

The instructions are ours (written for protege, short and literal, as LeRobot's `task` strings are); they
tag each recorded episode (`info["instruction"]`) and are what an instruction-conditioned policy reads.
This module registers no task and imports no simulator.
"""

from __future__ import annotations

from protege.errors import ProtegeError

# MT10 as Meta-World defines it (metaworld.MT10's training classes)
MT10 = ("reach", "push", "pick-place", "door-open", "drawer-open", "drawer-close", "button-press-topdown",
        "peg-insert-side", "window-open", "window-close")

INSTRUCTIONS: dict[str, str] = {
    "assembly": "put the ring on the peg",
    "basketball": "dunk the ball into the basket",
    "bin-picking": "move the block from one bin to the other",
    "box-close": "put the lid on the box",
    "button-press-topdown": "press the button from the top",
    "button-press-topdown-wall": "press the button from the top behind the wall",
    "button-press": "press the button in front",
    "button-press-wall": "press the button behind the wall",
    "coffee-button": "press the button on the coffee machine",
    "coffee-pull": "pull the mug away from the coffee machine",
    "coffee-push": "push the mug under the coffee machine",
    "dial-turn": "turn the dial",
    "disassemble": "take the ring off the peg",
    "door-close": "close the door",
    "door-lock": "lock the door by turning the lock",
    "door-open": "open the door",
    "door-unlock": "unlock the door by turning the lock",
    "drawer-close": "close the drawer",
    "drawer-open": "open the drawer",
    "faucet-close": "turn the faucet handle to close it",
    "faucet-open": "turn the faucet handle to open it",
    "hammer": "hammer the nail into the wall",
    "hand-insert": "put your hand in the hole",
    "handle-press-side": "press the handle down from the side",
    "handle-press": "press the handle down",
    "handle-pull-side": "pull the handle up from the side",
    "handle-pull": "pull the handle up",
    "lever-pull": "pull the lever up",
    "peg-insert-side": "insert the peg into the hole from the side",
    "peg-unplug-side": "unplug the peg from the side",
    "pick-out-of-hole": "pick the block out of the hole",
    "pick-place": "pick up the block and place it at the goal",
    "pick-place-wall": "pick up the block and place it at the goal behind the wall",
    "plate-slide-back-side": "slide the plate back into the cabinet from the side",
    "plate-slide-back": "slide the plate back into the cabinet",
    "plate-slide-side": "slide the plate sideways into the cabinet",
    "plate-slide": "slide the plate into the cabinet",
    "push-back": "push the block backwards to the goal",
    "push": "push the block to the goal",
    "push-wall": "push the block to the goal behind the wall",
    "reach": "reach to the goal position",
    "reach-wall": "reach to the goal position over the wall",
    "shelf-place": "put the block on the shelf",
    "soccer": "kick the ball into the goal",
    "stick-pull": "pull the box with the stick",
    "stick-push": "push the box with the stick",
    "sweep-into": "sweep the block into the hole",
    "sweep": "sweep the block off the table",
    "window-close": "slide the window closed",
    "window-open": "slide the window open",
}

MT50 = tuple(INSTRUCTIONS)

TASK_SETS: dict[str, tuple[str, ...]] = {
    "metaworld/MT10": tuple(f"metaworld/{t}" for t in MT10),
    "metaworld/MT50": tuple(f"metaworld/{t}" for t in MT50),
}


def resolve_tasks(name: str) -> list[str]:
    """A task set name (`metaworld/MT10`, `metaworld/MT50`), a comma list of task names, or one task name
    -> the task names, in order, each listed once. Names are checked against the registry."""
    from protege.envs.registry import get_task

    if name in TASK_SETS:
        return list(TASK_SETS[name])
    names = [n.strip() for n in name.split(",") if n.strip()]
    if not names:
        raise ProtegeError(f"--task: expected a task name, a task set ({', '.join(TASK_SETS)}) or a comma list "
                           f"of task names, found {name!r}")
    out: list[str] = []
    for n in names:
        if n in TASK_SETS:
            raise ProtegeError(f"--task: expected task names in a comma list, found the task set {n!r} in {name!r}")
        get_task(n)  # an unknown name fails here, in one line with suggestions
        if n not in out:
            out.append(n)
    return out


def is_task_set(name: str) -> bool:
    """Whether `name` names several tasks (a registered set or a comma list)."""
    return name in TASK_SETS or "," in name


def instruction_for(task_name: str) -> str:
    """The instruction of a task: ours for a Meta-World task (`metaworld/drawer-open` -> "open the
    drawer"), else the task's short name in words (`pendulum` -> "pendulum")."""
    short = task_name.split("/", 1)[-1].split("[", 1)[0]
    if task_name.split("/", 1)[0] in ("metaworld", "metaworld-vision") and short in INSTRUCTIONS:
        return INSTRUCTIONS[short]
    return short.replace("-", " ").replace("_", " ")
