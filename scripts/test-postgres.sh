#!/usr/bin/env bash
# Prints a PostgreSQL URL for the tests, starting the local cluster and creating a role
# and database when needed. Honours CE_LEDGER_TEST_POSTGRES_URL if it is already set.
set -euo pipefail
if [[ -n "${CE_LEDGER_TEST_POSTGRES_URL:-}" ]]; then
  echo "$CE_LEDGER_TEST_POSTGRES_URL"; exit 0
fi
url="postgresql://ce_ledger:ce_ledger@127.0.0.1:5432/ce_ledger_test"
# The test database only: commits do not wait for the WAL to reach the disk (about 15% of the
# PostgreSQL tests' time). Only a crash of PostgreSQL itself could lose a test's last commits, and
# no test relies on that (the crash tests kill the ledger's processes, not the database).
fast() { PGPASSWORD=ce_ledger psql -qtA -h 127.0.0.1 -U ce_ledger -d ce_ledger_test \
           -c 'alter database ce_ledger_test set synchronous_commit = off' >/dev/null; }
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && \
   PGPASSWORD=ce_ledger psql -qtA -h 127.0.0.1 -U ce_ledger -d ce_ledger_test -c 'select 1' >/dev/null 2>&1; then
  fast; echo "$url"; exit 0
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  command -v pg_ctlcluster >/dev/null || { echo "PostgreSQL is not installed: set CE_LEDGER_TEST_POSTGRES_URL" >&2; exit 1; }
  version=$(ls /etc/postgresql | sort -n | tail -1)
  pg_ctlcluster "$version" main start -- -t 600 >&2  # crash recovery can outlast the default 60 s
  for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi
as_postgres() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
as_postgres psql -qtA -c "select 1 from pg_roles where rolname='ce_ledger'" | grep -q 1 || \
  as_postgres psql -q -c "create role ce_ledger login password 'ce_ledger'" >&2
as_postgres psql -qtA -c "select 1 from pg_database where datname='ce_ledger_test'" | grep -q 1 || \
  as_postgres psql -q -c "create database ce_ledger_test owner ce_ledger" >&2
fast
echo "$url"
