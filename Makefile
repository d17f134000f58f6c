# `make demo` and `make test` work on a fresh clone: they create .venv and install what is needed.
# torch and mujoco are pinned through constraints.txt so pip never pulls a CUDA build or MuJoCo 4.
PY ?= python3.11
VENV := .venv
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: install demo test bench clean system-deps

# system-deps is order-only: checked on every run (one dpkg query), without reinstalling the venv.
$(STAMP): pyproject.toml constraints.txt | system-deps
	@test -x $(VENV)/bin/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e ".[dev,tensorboard]" metaworld mujoco==3.3.0 pygame
	@touch $(STAMP)

install: $(STAMP)

# Off-screen rendering (videos, the teleop live view) needs a GL library; without a GPU that is OSMesa.
# Installed with apt-get when missing and we are root; otherwise one line says how, and the tests that
# render skip. apt runs only when the package is missing (the check is one dpkg query).
GL_PACKAGE := libosmesa6
# `protege view`'s test drives a headless Chromium; installed the same way, else that test skips.
BROWSER_PACKAGE := chromium
system-deps:
	@if dpkg-query -W -f='$${Status}' $(GL_PACKAGE) 2>/dev/null | grep -q 'ok installed'; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "system-deps: $(GL_PACKAGE) (off-screen rendering) is missing; install it with: sudo apt-get install $(GL_PACKAGE)"; \
	  exit 0; fi; \
	echo "system-deps: installing $(GL_PACKAGE) (off-screen rendering) with apt-get"; \
	log=$$(mktemp); \
	if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(GL_PACKAGE); } >$$log 2>&1; then \
	  echo "system-deps: could not install $(GL_PACKAGE) (the tests that render will skip): $$(tail -n 1 $$log)"; fi; \
	rm -f $$log
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "system-deps: $(BROWSER_PACKAGE) (the viewer's browser test) is missing; install it with: sudo apt-get install $(BROWSER_PACKAGE)"; \
	  exit 0; fi; \
	echo "system-deps: installing $(BROWSER_PACKAGE) (the viewer's browser test) with apt-get"; \
	log=$$(mktemp); \
	if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_PACKAGE); } >$$log 2>&1; then \
	  echo "system-deps: could not install $(BROWSER_PACKAGE) (the viewer's browser test will skip): $$(tail -n 1 $$log)"; fi; \
	rm -f $$log

demo: $(STAMP)
	$(VENV)/bin/protege demo

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q --durations=20

bench: $(STAMP)
	OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/bc_scaling.py
	OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/few_demos.py
	OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/train_speed.py
	OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/convert.py
	OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/control_loop.py
	OMP_NUM_THREADS=1 $(VENV)/bin/python benchmarks/heads.py
	$(VENV)/bin/python benchmarks/train_defaults.py --tasks metaworld/basketball
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
