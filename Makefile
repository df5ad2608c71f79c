# Portico's two everyday commands. Both install exactly what uv.lock pins.
#   make demo   installs and runs the main job on the embedded defaults
#   make check  installs and runs lint, strict types and the whole test suite

UV_VERSION := 0.13.8
UV := .tools/bin/uv
PORTICO_ARGS ?=

.PHONY: demo check install lint types test

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

install: $(UV)
	$(UV) sync --frozen --all-extras

demo: install
	.venv/bin/portico demo $(PORTICO_ARGS)

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

types: install
	.venv/bin/mypy

test: install
	.venv/bin/python -m pytest

check: lint types test
