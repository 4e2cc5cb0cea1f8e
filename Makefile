# Set-up and everyday commands. `make demo` and `make test` work on a fresh clone.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

.PHONY: install demo test bench lint
install: $(STAMP)

demo: $(STAMP)
	$(PY) -m scripts.sample_photos demo/photos
	$(VENV)/bin/prismarec render demo/photos/chelsea.png --guide demo/photos/hubble_deep_field.png \
		--set rb_rate=0.9 -o demo/out/chelsea.png

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m scripts.bench_render
