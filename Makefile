# Set-up and everyday commands. `make demo` and `make test` work on a fresh clone.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

.PHONY: install demo test check bench system-packages
install: $(STAMP)

# The demo keeps its database, index and renders in demo/home, away from the user's data.
DEMO_ENV := PRISMAREC_HOME=$(CURDIR)/demo/home

demo: $(STAMP)
	$(PY) -m prismarec.scripts.sample_photos demo/photos
	test -f demo/home/prismarec.db || $(DEMO_ENV) $(PY) -m prismarec.scripts.make_demo_curation
	$(DEMO_ENV) $(VENV)/bin/recommend-and-render demo/photos/chelsea.png --guide demo/photos/hubble_deep_field.png \
		-o demo/out

# The browser tests drive Debian's Chromium with Playwright; the database tests also run on a
# throw-away PostgreSQL server. `make test` installs both and fails (not skips) without them.
SUDO := $(shell [ "$$(id -u)" -ne 0 ] && command -v sudo)
system-packages:
	@missing=""; command -v chromium >/dev/null || missing="chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	[ -z "$$missing" ] || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; }

test: $(STAMP) system-packages
	$(VENV)/bin/ruff check .
	PRISMAREC_REQUIRE_POSTGRES=1 $(PY) -m pytest -q

# The quick loop while working: ruff and every test not marked slow (browsers, load, long
# evaluations). `make test` runs everything and is what CI runs.
check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -m "not slow"

bench: $(STAMP)
	$(PY) -m prismarec.scripts.bench_render
	$(PY) -m prismarec.scripts.bench_recommend
