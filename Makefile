# Two entry points (see README): `make run` and `make test`.
# Both create .venv in the repo root when missing and say what they are doing.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
# torch is pinned to a CPU wheel on these machines (see shared/ENVIRONMENT.md);
# override with `make test TORCH_SPEC=torch` on a machine with its own choice.
TORCH_SPEC ?= torch==2.13.0

.PHONY: run test install install-test bench clean system-test-packages

run: $(VENV)/.installed-core
	@echo ">> Starting OwnVoice"
	$(VENV)/bin/ownvoice gui

test: $(VENV)/.installed-test system-test-packages
	@echo ">> Running the whole test suite"
	QT_QPA_PLATFORM=offscreen HF_HUB_OFFLINE=1 $(PY) -m pytest $(PYTEST_ARGS)

install: $(VENV)/.installed-core
install-test: $(VENV)/.installed-test

$(PY):
	@echo ">> Creating virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools wheel

$(VENV)/.installed-core: pyproject.toml tools/llama_wheel.py | $(PY)
	$(PY) tools/llama_wheel.py
	@echo ">> Installing OwnVoice and its dependencies into $(VENV)"
	$(PIP) install --progress-bar off -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml tools/llama_wheel.py | $(PY)
	@echo ">> Installing the CPU build of PyTorch first ($(TORCH_SPEC)), so nothing pulls a CUDA build"
	$(PIP) install --progress-bar off "$(TORCH_SPEC)"
	$(PY) tools/llama_wheel.py
	@echo ">> Installing OwnVoice with the train, mlx and dev extras into $(VENV)"
	$(PIP) install --progress-bar off -e ".[train,mlx,dev]"
	@touch $(VENV)/.installed-core $@

# The remote tests start a real OpenSSH server on 127.0.0.1 (Debian/Ubuntu: openssh-server).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system-test-packages:
	@if [ ! -x /usr/sbin/sshd ]; then \
	  echo ">> Installing openssh-server (the remote tests run a real SSH server on 127.0.0.1)"; \
	  command -v apt-get >/dev/null || { echo "Install an OpenSSH server (sshd) and run again."; exit 1; }; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq openssh-server \
	    || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq openssh-server; }; \
	fi

bench: $(VENV)/.installed-test system-test-packages
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
