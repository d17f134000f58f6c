"""benchmarks/dapg_adroit.py: variant cells (another BC std, another training seed) get their own files and
the table pools a setting's seeds."""

import sys
from argparse import Namespace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import dapg_adroit  # noqa: E402


def _cell(variant: str, seed: int, successes: int, episodes: int = 50) -> dict:
    return {"row": "door-human", "cell": "DAPG", "variant": variant, "settings": {"seed": seed},
            "successes": successes, "episodes": episodes, "success_rate": successes / episodes}


def test_variant_names_keep_the_default_cell_file_and_separate_seeds():
    assert dapg_adroit.variant(Namespace(bc_std="likelihood", seed=0)) == ""
    assert dapg_adroit.variant(Namespace(bc_std="demos", seed=0)) == "_bcstd-demos"
    assert dapg_adroit.variant(Namespace(bc_std="likelihood", seed=2)) == "_seed2"
    assert dapg_adroit.variant(Namespace(bc_std="demos", seed=1)) == "_bcstd-demos_seed1"


def test_seeds_of_one_setting_are_pooled_and_single_seed_settings_are_not():
    default = {("door-human", "DAPG"): _cell("", 0, 22)}
    variants = [_cell("bcstd-demos", 0, 42), _cell("bcstd-demos_seed2", 2, 40), _cell("bcstd-demos_seed1", 1, 47)]
    lines = dapg_adroit._pooled_seeds(default, variants)
    assert len(lines) == 1
    assert lines[0].startswith("- door-human DAPG, bcstd-demos, 3 training seeds pooled: 86% [")
    assert "(129/150; per seed 84, 94, 80%)" in lines[0]
