#!/usr/bin/env bash
# Start Debian's PostgreSQL cluster and create a throwaway test database; prints its URL.
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  (apt-get install -y -q postgresql || (apt-get update -q && apt-get install -y -q postgresql)) >&2
fi
ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q "^$ver main"; then
  pg_createcluster "$ver" main >&2
fi
pg_ctlcluster "$ver" main start >&2 2>/dev/null || true
for _ in $(seq 30); do pg_isready -q && break; sleep 1; done
# A throwaway CI cluster: the test role may create databases and drop them WITH (FORCE).
su postgres -c "psql -qtc \"SELECT 1 FROM pg_roles WHERE rolname='tagscope'\" | grep -q 1 || psql -qc \"CREATE ROLE tagscope LOGIN PASSWORD 'tagscope'\"" >&2
su postgres -c "psql -qc \"ALTER ROLE tagscope SUPERUSER CREATEDB\"" >&2
su postgres -c "psql -qtc \"SELECT 1 FROM pg_database WHERE datname='tagscope_test'\" | grep -q 1 || createdb -O tagscope tagscope_test" >&2
echo "postgresql://tagscope:tagscope@localhost:5432/tagscope_test"
