#!/usr/bin/env bash
# schemathesis against a live demo, once per staff role with that role's API token.
#
#   benchmarks/fuzz/run_schemathesis.sh [max-examples per operation, default 10]
#   ROLES="prescriber auditor" benchmarks/fuzz/run_schemathesis.sh   (only those roles)
#
# Needs schemathesis in the venv (`.venv/bin/pip install schemathesis`). Builds a throw-away SQLite demo
# in a temporary folder (never ./igflow.db), gives each role a service account and a token, serves it on
# a free port, and runs the checks that matter for a generated client: no 5xx, and every response
# (status and body) as the OpenAPI document declares. Exit status: non-zero if any role failed.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.venv/bin
EXAMPLES="${1:-10}"
WORK="$(mktemp -d)"
PORT="${PORT:-8765}"
export IGFLOW_DATABASE_URL="sqlite:///$WORK/fuzz.db" IGFLOW_SERVE_WORKER=false IGFLOW_JOBS_URL=immediate
"$BIN/igflow" db upgrade >/dev/null
"$BIN/igflow" demo --patients 60 --orders 10 >/dev/null
"$BIN/python" - "$WORK/tokens" <<'PY'
import sys

import igflow.models  # every table, so that the foreign keys resolve
from igflow.config import get_settings
from igflow.db import Database
from igflow.security import service
from igflow.security.audit import SYSTEM

db = Database(get_settings().database_url)
with open(sys.argv[1], "w") as out, db.session() as session:
    for role in (
        "admin", "pharmacist", "nurse", "scheduler", "intake", "prescriber", "auditor", "pt_approver", "prior_auth"
    ):
        user = service.create_user(
            session, SYSTEM, username=f"fuzz-{role}", display_name=f"Fuzz {role}", password=None,
            roles=[role], is_service_account=True,
        )
        raw, _ = service.issue_token(session, SYSTEM, user_id=user.id, name="fuzz", roles=[role], expires_days=1)
        out.write(f"{role} {raw}\n")
db.dispose()
PY
"$BIN/igflow" serve --port "$PORT" --no-worker >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
status=0
while read -r role token; do
  case " ${ROLES:-$role} " in *" $role "*) ;; *) continue ;; esac  # ROLES="nurse auditor": only those
  echo "=== $role"
  "$BIN/st" run "http://127.0.0.1:$PORT/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing --max-examples "$EXAMPLES" --workers 2 --no-color \
    --suppress-health-check all || status=1
done <"$WORK/tokens"
grep -c "unhandled" "$WORK/server.log" | sed 's/^/server-side unhandled errors: /' || true
exit $status
