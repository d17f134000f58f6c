"""A person as the DAgger family's expert gates one episode at a time: several workers (or Ray) are refused in
one line before anything is written, while a scripted expert or the simulated supervisor is not."""

import pytest

from protege.algos.dagger import DaggerConfig, run_dagger
from protege.algos.dagger.loop import check_one_person, make_gate
from protege.envs import get_task
from protege.errors import ProtegeError
from protege.teleop import ScriptedSource, TeleopDevice, default_profile, script
from protege.teleop.input import TAKEOVER


def _person(task):
    return TeleopDevice(ScriptedSource(script([(4, TAKEOVER), (9, TAKEOVER)], 300)),
                        default_profile("scripted", task.spec), task.spec)


@pytest.mark.parametrize("gate", ["hg", "dagger"])
def test_a_person_with_several_workers_is_refused_in_one_line_and_nothing_is_written(tmp_path, gate):
    task = get_task("pendulum")
    cfg = DaggerConfig(task="pendulum", gate=gate, rounds=1, episodes_per_round=2, demos=1, workers=2)
    with pytest.raises(ProtegeError) as e:
        run_dagger(cfg, tmp_path / "run", expert=_person(task))
    msg = str(e.value)
    assert msg == ("--workers: expected 1 with a person as the expert (human:scripted: one person at one device "
                   "gates one episode at a time), found 2")
    assert not (tmp_path / "run").exists()


def test_a_person_on_ray_is_refused_before_ray_is_asked_for(tmp_path):
    task = get_task("pendulum")
    cfg = DaggerConfig(task="pendulum", gate="hg", rounds=1, workers=1, ray="auto")
    with pytest.raises(ProtegeError, match=r"^--ray: expected none with a person as the expert .*found 'auto'$"):
        run_dagger(cfg, tmp_path / "run", expert=_person(task))
    assert not (tmp_path / "run").exists()


def test_a_scripted_expert_or_simulated_supervisor_may_use_workers():
    task = get_task("pendulum")
    for gate in ("hg", "dagger", "thrifty"):
        cfg = DaggerConfig(task="pendulum", gate=gate, workers=4)
        expert = task.make_expert()
        check_one_person(cfg, expert, make_gate(cfg, task, expert))  # no error
    person = _person(task)
    one = DaggerConfig(task="pendulum", gate="hg", workers=1)
    check_one_person(one, person, make_gate(one, task, person))  # a person on one worker: this process
