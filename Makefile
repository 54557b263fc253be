# One venv for everything; the stamps re-run an install only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install install-dev browser sandbox clean

run: $(VENV)/.installed sandbox
	$(BIN)/python manage.py up $(ARGS)

test: $(VENV)/.installed-dev browser sandbox
	$(BIN)/python -m pytest $(ARGS)

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/.torch:
	$(PYTHON) -m venv $(VENV)
	# the CPU build of torch, before sentence-transformers could ask for a CUDA one
	$(BIN)/pip install --quiet torch==2.13.0
	touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.torch
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(VENV)/.installed $@

# browser tests drive Debian's Chromium; Playwright never downloads a browser of its own
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# custom tools run in Debian's bubblewrap (agents/tools/sandbox.py); without it they fail with a clear error
sandbox:
	@command -v bwrap >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null) \
		|| echo "custom tools need bubblewrap: apt-get install bubblewrap"

clean:
	rm -rf $(VENV) .playground-test
