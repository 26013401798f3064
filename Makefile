# The two commands: `make demo` and `make test`. Both work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Debian's chromium for the dashboard's browser tests (Playwright drives it by executable_path)
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test check lock hot lint bench evaluate clean screenshots services

# What the install resolves is pinned in constraints.txt: every package, the build's own tools
# (setuptools, mypy for mypyc) included, so a clean clone installs today what it installed the
# day the file was written. pip reads PIP_CONSTRAINT in the build's isolated environment too.
# `make lock` refreshes it on purpose from the newest releases; commit the result after
# `make test` passes with it.
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt

# The install compiles the hot path with mypyc where a C compiler is at hand (setup.py);
# `hot` rebuilds it after a hot module was edited, since Python prefers the compiled copy.
# LightGBM's wheel links the system's OpenMP runtime (Debian's libgomp1, which a machine with
# gcc has and a bare one may lack).
$(STAMP): pyproject.toml setup.py constraints.txt
	@$(PYTHON) -c "import ctypes.util, sys; sys.exit(not ctypes.util.find_library('gomp'))" || \
		{ $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q libgomp1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

hot: $(STAMP)
	@$(BIN)/python -m intently._hot >/dev/null || $(BIN)/pip install --quiet --no-deps -e .

demo: hot
	$(BIN)/intently demo

$(CHROMIUM):
	$(SUDO) apt-get update -q
	$(SUDO) apt-get install -y -q chromium

# The official JavaScript libraries the ingest tests use as clients, exactly as locked in
# tests/sdk/package-lock.json (refresh: cd tests/sdk && npm install PKG@VERSION); Node.js and
# npm from Debian's packages where the machine has none.
NODE_MODULES := tests/sdk/node_modules/.installed
$(NODE_MODULES): tests/sdk/package.json tests/sdk/package-lock.json
	@command -v npm >/dev/null || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q nodejs npm; }
	cd tests/sdk && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

# The servers the backends' tests talk to (PostgreSQL), from Debian's packages where missing,
# started where stopped; a machine that runs them already is only checked.
services:
	@bash scripts/services.sh

test: hot services $(CHROMIUM) $(NODE_MODULES)
	$(BIN)/ruff check src tests docs scripts setup.py
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

# The fast loop (under a minute): lint, types, then the unit tests (no servers, browsers,
# crashes or model recipes: `make test` runs those), stopping at the first failure.
check: hot services
	$(BIN)/ruff check src tests docs scripts setup.py
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -x -m "not integration and not browser and not crash and not slow"

# Refresh constraints.txt from the newest releases (in a throwaway environment; the project's
# own requirements from pyproject.toml, without building it, so the tree is left as it is).
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	PIP_CONSTRAINT= .lock-venv/bin/pip install --quiet --upgrade pip setuptools wheel
	$(PYTHON) -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
		print('\n'.join(p['dependencies'] + [d for g in p['optional-dependencies'].values() for d in g]))" > .lock-venv/wants.txt
	PIP_CONSTRAINT= .lock-venv/bin/pip install --quiet -r .lock-venv/wants.txt mypy
	{ echo "# pip constraints for every install of this project: refresh with 'make lock'"; \
	  .lock-venv/bin/pip freeze --all --exclude-editable | grep -v '^intently'; } > constraints.txt
	rm -rf .lock-venv

bench: hot
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null 2>&1 || \
		echo "wrk is not installed: the decide bench uses httpx (slower client)"
	$(BIN)/intently bench --json

# The README's screenshots of the dashboard (Debian's chromium through Playwright)
screenshots: hot $(CHROMIUM)
	$(BIN)/python docs/screenshots.py

clean:
	rm -rf $(VENV) .lock-venv tests/sdk/node_modules build src/*.so src/intently/*/*.so intently.db intently.db-wal intently.db-shm intently.db-claims .eval-shop.csv .eval-cdnow.csv

# Quality of the intent model next to its baselines, on the simulator and on real clickstreams:
# REES46 from ../shared/data when present, `ecom.csv.gz` read from the installed
# `retentioneering` package, and CLV on CDNOW from the `lifetimes` package (both installed
# without their dependencies: only their data is used).
evaluate: hot
	$(BIN)/intently simulate --users 3000 --days 30 --out .eval-shop.csv --json
	$(BIN)/intently intent evaluate .eval-shop.csv --user-col user_id --anonymous-col anonymous_id \
		--time-col timestamp --event-col event --purchase-event "Order Completed" --gap-minutes 1440 --json
	@if [ -f ../shared/data/rees46_2019oct_head.csv ]; then \
		$(BIN)/intently intent evaluate ../shared/data/rees46_2019oct_head.csv --user-col user_id \
			--time-col event_time --event-col event_type --session-col user_session \
			--purchase-event purchase --json; fi
	@if [ -f ../shared/data/taobao_userbehavior_timeslice.csv ]; then \
		$(BIN)/intently intent evaluate ../shared/data/taobao_userbehavior_timeslice.csv \
			--user-col user_id --time-col timestamp --event-col behavior_type \
			--map category=category_id --item-col item_id --purchase-event buy --json; fi
	$(BIN)/pip install --quiet --no-deps "retentioneering>=3"
	$(BIN)/intently intent evaluate "$$($(BIN)/python -c 'import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec("retentioneering").origin).parent / "datasets" / "ecom.csv.gz")')" \
		--user-col user_id --time-col timestamp --event-col event --session-col session_id \
		--purchase-event purchase --json
	$(BIN)/pip install --quiet --no-deps "lifetimes>=0.11"
	$(BIN)/python -c "import importlib.util, pathlib; src = pathlib.Path(importlib.util.find_spec('lifetimes').origin).parent / 'datasets' / 'CDNOW_sample.txt'; rows = [line.split() for line in src.read_text().splitlines() if line.strip()]; pathlib.Path('.eval-cdnow.csv').write_text('customer,date,cds,amount\n' + ''.join(f'{r[0]},{r[2]},{r[3]},{r[4]}\n' for r in rows))"
	$(BIN)/intently clv evaluate .eval-cdnow.csv --customer-col customer --time-col date \
		--amount-col amount --calibration-end 1997-10-01 --holdout-end 1998-07-01 --json
