#!/usr/bin/env bash
# Schemathesis against the OpenAPI document the daemon serves: property-based requests to every
# REST operation, with a service token, and a failure for any 5xx or any answer that its
# documented schema does not describe.
#
# Starts target/debug/mama-daemon (built if missing) on a temporary SQLite data dir with the
# REST API on a free loopback port, signs in over the admin socket (admin/admin, then a new
# password), creates a service with a token and a few users so lookups find someone, runs
# schemathesis from a venv cached under target/, and stops the daemon and removes the data dir
# whatever happens. Bounded: at most SCHEMATHESIS_MAX_EXAMPLES cases per operation and phase, and
# the whole run at most SCHEMATHESIS_TIMEOUT seconds.
#
#   bash .ci/schemathesis.sh                      # as CI runs it
#   SCHEMATHESIS_SEED=1234 bash .ci/schemathesis.sh   # replay a run (the seed is printed)
#   bash .ci/schemathesis.sh --report ndjson         # further arguments go to `schemathesis run`
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-500}
TIMEOUT=${SCHEMATHESIS_TIMEOUT:-300}
VENV="$ROOT/target/schemathesis-venv"
DAEMON="$ROOT/target/debug/mama-daemon"

# ---------------------------------------------------------------- schemathesis (cached venv)
if [ "$("$VENV/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# ---------------------------------------------------------------- the daemon
[ -x "$DAEMON" ] || cargo build --locked -p mama-daemon --bin mama-daemon

WORK=$(mktemp -d /tmp/mama-schemathesis.XXXXXX)
DAEMON_PID=
cleanup() {
  status=$?
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DAEMON_PID" 2>/dev/null || true
  fi
  if [ $status -ne 0 ] && [ -f "$WORK/daemon.log" ]; then
    echo "--- daemon log (last 40 lines)" >&2
    tail -n 40 "$WORK/daemon.log" >&2
  fi
  rm -rf "$WORK"
  exit $status
}
trap cleanup EXIT INT TERM

SOCKET="$WORK/data/admin.sock"
: >"$WORK/mama.toml" # an empty config: nothing from /etc/mama/mama.toml
# A clean environment: no MAMA_* variable, LiteLLM or systemd credential of the caller leaks in.
env -i PATH="$PATH" HOME="$WORK" \
  "$DAEMON" serve --config "$WORK/mama.toml" --data-dir "$WORK/data" \
  --listen 127.0.0.1:0 --admin-socket "$SOCKET" --log warn,mama_daemon=info \
  >"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
REST=
for _ in $(seq 1 300); do
  REST=$(grep -o 'mama-daemon ready rest=[0-9.:]*' "$WORK/daemon.log" 2>/dev/null | sed 's/.*rest=//' || true)
  [ -n "$REST" ] && break
  kill -0 "$DAEMON_PID" 2>/dev/null || { echo "mama-daemon exited before it was ready" >&2; exit 1; }
  sleep 0.1
done
[ -n "$REST" ] || { echo "mama-daemon did not become ready in 30 s" >&2; exit 1; }
BASE="http://$REST"
echo "mama-daemon $("$DAEMON" --version | awk '{print $2}') ready: REST on $BASE"

# ---------------------------------------------------------------- an admin, a service, its token, users
# rpc METHOD PARAMS [SESSION]: one admin call over the Unix socket; prints the result, fails on an error.
rpc() {
  local auth=() answer
  [ -n "${3:-}" ] && auth=(-H "Authorization: Bearer $3")
  answer=$(curl -sS --unix-socket "$SOCKET" -H 'content-type: application/json' "${auth[@]}" \
    --data-binary "{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"$1\", \"params\": $2}" \
    http://mama/rpc)
  if ! jq -e 'has("result")' >/dev/null <<<"$answer"; then
    echo "$1 failed: $(jq -c '.error.data // .' <<<"$answer")" >&2
    return 1
  fi
  jq -c '.result' <<<"$answer"
}
PASSWORD="schemathesis-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
session=$(rpc auth.login '{"username": "admin", "password": "admin"}' | jq -r .token)
session=$(rpc auth.change_password "{\"old_password\": \"admin\", \"new_password\": \"$PASSWORD\"}" "$session" | jq -r .token)
rpc services.create '{"name": "schemathesis"}' "$session" >/dev/null
rpc services.create '{"name": "other"}' "$session" >/dev/null
TOKEN=$(rpc services.issue_token '{"service": "schemathesis"}' "$session" | jq -r .token)
rpc users.create '{"users": [
  {"id": "alice", "organization": "Research", "models": ["gpt-4o"], "services": ["schemathesis"], "info": {"team": "ml"}},
  {"id": "bob", "models": ["gpt-4o"], "services": ["other"]},
  {"id": "carol", "services": ["schemathesis"]},
  {"id": "홍길동", "organization": "서울", "models": ["gpt-4o", "claude"], "services": ["schemathesis", "other"]}
]}' "$session" >/dev/null
echo "service token issued; 4 users created"

# ---------------------------------------------------------------- schemathesis
SEED=${SCHEMATHESIS_SEED:-$(( (RANDOM << 15) | RANDOM ))}
CMD=("$VENV/bin/schemathesis" run "$BASE/api/v1/openapi.json"
  --header "Authorization: Bearer $TOKEN"
  # Every check but one: `positive_data_acceptance` wants every id the schema allows to be
  # accepted, and the schema's UserId pattern is knowingly wider than the server (no portable
  # regex says "a letter of any script, in NFKC"), so that no client refuses an id the server
  # takes. The reverse, `negative_data_rejection`, holds and is checked.
  --checks all --exclude-checks positive_data_acceptance
  --max-examples "$MAX_EXAMPLES"
  --seed "$SEED"
  --workers 2
  --request-timeout 10
  --generation-database none
  --no-color
  "$@")
echo "schemathesis $SCHEMATHESIS_VERSION, seed $SEED, at most $MAX_EXAMPLES examples per operation, ${TIMEOUT}s"
# The token stays out of the printed command line.
printf '%q ' "${CMD[@]}" | sed "s/$TOKEN/\$TOKEN/g"; echo
started=$SECONDS
set +e
(cd "$WORK" && timeout --signal=INT --kill-after=10 "$TIMEOUT" "${CMD[@]}")
status=$?
set -e
echo "schemathesis finished in $((SECONDS - started))s with status $status"
if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
  echo "mama-daemon died during the run" >&2
  exit 1
fi
if [ $status -eq 124 ]; then
  echo "schemathesis did not finish within ${TIMEOUT}s" >&2
fi
exit $status
