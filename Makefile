# The two commands: `make run` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Python keeps compiled modules (__pycache__, ignored by git): where PYTHONDONTWRITEBYTECODE is set,
# every server, command and test worker the suite starts compiled the whole package again (about
# 0.15 s of CPU each, some 80 starts).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test bench bench-projections bench-api bench-depth scale bench-verify bench-import bench-spot-check soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The HTTP API on the SQLite default, with the demo records and a token per role; on loopback over
# plain HTTP, so the workbench's session cookie is sent without TLS (CE_LEDGER_PLAIN_HTTP).
run: $(STAMP)
	CE_LEDGER_PLAIN_HTTP=true $(BIN)/ce-ledger serve --demo

# The tests' scratch files (their SQLite stores, forms, uploads) go to memory where the machine has
# a tmpfs: each SQLite commit waits for the disk (fsync), about a tenth of the suite's time. The stores
# are the same files through the same library; only the disk under them is faster.
TEST_TMPDIR := $(shell [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo "$${TMPDIR:-/tmp}")

# PostgreSQL: uses CE_LEDGER_TEST_POSTGRES_URL when set, else starts the local cluster.
test: $(STAMP)
	scripts/test-system-deps.sh
	CE_LEDGER_TEST_POSTGRES_URL="$$(scripts/test-postgres.sh)" TMPDIR=$(TEST_TMPDIR) $(BIN)/pytest -n auto -q

bench: $(STAMP)
	CE_LEDGER_TEST_POSTGRES_URL="$$(scripts/test-postgres.sh)" $(BIN)/python scripts/bench_core.py

bench-projections: $(STAMP)
	CE_LEDGER_TEST_POSTGRES_URL="$$(scripts/test-postgres.sh)" $(BIN)/python scripts/bench_projections.py

bench-api: $(STAMP)
	CE_LEDGER_TEST_POSTGRES_URL="$$(scripts/test-postgres.sh)" $(BIN)/python scripts/bench_api.py

bench-depth: $(STAMP)
	CE_LEDGER_TEST_POSTGRES_URL="$$(scripts/test-postgres.sh)" $(BIN)/python scripts/bench_depth.py

# The region-scale run (docs/scale.md): 3,360, 10,000 and 33,600 people; about an hour on 2 cores.
scale: $(STAMP)
	CE_LEDGER_TEST_POSTGRES_URL="$$(scripts/test-postgres.sh)" $(BIN)/python scripts/scale.py --out scale-figures.json

bench-verify: $(STAMP)
	CE_LEDGER_TEST_POSTGRES_URL="$$(scripts/test-postgres.sh)" $(BIN)/python scripts/bench_verify.py

bench-import: $(STAMP)
	CE_LEDGER_TEST_POSTGRES_URL="$$(scripts/test-postgres.sh)" $(BIN)/python scripts/bench_import.py

bench-spot-check: $(STAMP)
	$(BIN)/python scripts/bench_spot_check.py

# The long soak (60 s of ingest and totals); CI runs a short one in tests/test_soak.py.
soak: $(STAMP)
	CE_LEDGER_TEST_POSTGRES_URL="$$(scripts/test-postgres.sh)" $(BIN)/python scripts/soak.py --seconds 60

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
