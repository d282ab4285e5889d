#!/usr/bin/env bash
# One locust configuration against a fresh copy of the demo network on PostgreSQL.
#   benchmarks/api/run.sh LABEL PROCESSES USERS [SECONDS]
# Needs databases igflow_bench_tpl (the demo, see README.md) on $PGHOST; copies it to igflow_bench,
# serves it with PROCESSES server processes (1: igflow serve --no-worker; 2: uvicorn --workers 2),
# runs locust headless and writes results/LABEL-pPROCESSES-uUSERS_stats.csv.
# IGFLOW_SRC=/tmp/igflow-before/src measures another checkout (PYTHONPATH wins over the editable install);
# LOCUST_ARGS="--reset-stats" drops the sign-in ramp from the figures (steady state only).
# SQLITE_TPL=/tmp/demo.db serves a copy of that SQLite demo instead of PostgreSQL.
set -euo pipefail
label=$1 procs=$2 users=$3 seconds=${4:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pg=${PGURL:-postgresql+psycopg://postgres@127.0.0.1:5432}
port=${PORT:-8765}
out="$here/results"
mkdir -p "$out"
if [ -n "${SQLITE_TPL:-}" ]; then  # SQLITE_TPL=/path/demo.db: a copy of that SQLite demo instead
  db=/tmp/igflow-bench.db
  rm -f "$db" "$db-wal" "$db-shm" && cp "$SQLITE_TPL" "$db"
  export IGFLOW_DATABASE_URL="sqlite:///$db" IGFLOW_SERVE_WORKER=false
else
  psql -q -h 127.0.0.1 -U postgres -c "drop database if exists igflow_bench with (force)" \
    -c "create database igflow_bench template igflow_bench_tpl"
  export IGFLOW_DATABASE_URL="$pg/igflow_bench" IGFLOW_SERVE_WORKER=false
fi
[ -n "${IGFLOW_SRC:-}" ] && export PYTHONPATH="$IGFLOW_SRC"
if [ "$procs" = 1 ]; then
  "$root/.venv/bin/igflow" serve --no-worker --port "$port" >"/tmp/igflow-bench-server.log" 2>&1 &
else
  "$root/.venv/bin/uvicorn" --factory igflow.app:create_app --workers "$procs" --port "$port" \
    --no-access-log --no-proxy-headers --log-level warning >"/tmp/igflow-bench-server.log" 2>&1 &
fi
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 60); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.5; done
unset PYTHONPATH
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$root/.venv/bin/locust" -f "$here/locustfile.py" --host "http://127.0.0.1:$port" --headless \
  -u "$users" -r "$(( users < 10 ? users : 10 ))" -t "${seconds}s" --only-summary ${LOCUST_ARGS:-} \
  --csv "$out/$label-p$procs-u$users" >"$out/$label-p$procs-u$users.log" 2>&1 || true
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/$label-p$procs-u$users.log"

python3 "$here/summarise.py" "$out/$label-p$procs-u${users}_stats.csv"
