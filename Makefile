# `make demo` and `make test` work on a fresh clone: they create .venv and install what is needed.
# torch and mujoco are pinned through constraints.txt so pip never pulls a CUDA build or MuJoCo 4.
PY ?= python3.11
VENV := .venv
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: install demo test bench clean system-deps

$(STAMP): pyproject.toml constraints.txt
	@test -x $(VENV)/bin/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e ".[dev,tensorboard]" metaworld mujoco==3.3.0 pygame
	@touch $(STAMP)

install: $(STAMP)

# Off-screen rendering for videos (optional; everything else runs without it).
system-deps:
	-apt-get install -y -qq libosmesa6 >/dev/null 2>&1 || echo "could not install libosmesa6: videos need a GL backend"

demo: $(STAMP)
	$(VENV)/bin/protege demo

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

bench: $(STAMP)
	OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/bc_scaling.py
	OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/train_speed.py
	OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/convert.py
	OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/control_loop.py
	OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/heads.py
	OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/multimodality.py
	OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/chunk_ablation.py
	OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/rl_speed.py
	for td in pick-place:10 assembly:4 shelf-place:7; do OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/dapg_table.py --task $${td%:*} --demos $${td#*:} --env-steps 1000000 --tag 1M-e50; done
	OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/gates.py
	OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/dagger_vs_bc.py --task pendulum --seeds 0 1 2 --demos 2 --episodes-per-round 2 --steps 500
	for s in 0 1 2; do OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/dagger_vs_bc.py --task metaworld/pick-place --seeds $$s --demos 10 --rounds 5 --episodes-per-round 10 --steps 2000 --bc-demos 20 40 80; done
	for s in 0 1 2; do OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/dagger_vs_bc.py --task metaworld/assembly --seeds $$s --demos 10 --rounds 3 --episodes-per-round 10 --steps 2000; done
	OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/compounding_error.py

clean:
	rm -rf $(VENV) runs .pytest_cache
