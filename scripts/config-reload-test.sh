#!/usr/bin/env bash
# Config as versioned files, end to end against a running `cohort serve`:
# a broken set is refused (CLI and API) and the running config stays; a good set reloads
# in-process and is recorded; a rollback shows its plan, writes the old files back and reloads.
set -euo pipefail
cd "$(dirname "$0")/.."
COHORT=${COHORT:-$PWD/.build/debug/cohort}
WORK=$(mktemp -d)
cp -r Config "$WORK/Config"
cp -r Templates "$WORK/Templates"
cd "$WORK"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export COHORT_DATABASE=$WORK/cohort.sqlite COHORT_HTTP_PORT=$PORT COHORT_ADMIN_TOKEN=reload-test COHORT_LOG_LEVEL=warning
export WECOM_TOKEN=QDG6eK WECOM_AES_KEY=jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C
unset WECOM_SECRET
"$COHORT" serve > serve.log 2>&1 &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$PORT/healthz" > /dev/null 2>&1 && break; sleep 0.1; done
fail() { echo "config reload test FAILED: $*" >&2; cat serve.log >&2; exit 1; }
versions() { "$COHORT" config history --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
[ "$(versions)" = 1 ] || fail "serve did not record its config at start"

cp Config/tags.yaml tags.good
sed -i 's/owner: rules/owner: robots/' Config/tags.yaml
if "$COHORT" config reload > refused.txt 2>&1; then fail "a broken set was accepted"; fi
grep -q "Config/tags.yaml:6:12: groups\[0\].owner must be one of rules, staff" refused.txt || fail "the refusal does not point at the mistake: $(cat refused.txt)"
status=$(curl -s -o api.json -w '%{http_code}' -X POST -H "Authorization: Bearer reload-test" "http://127.0.0.1:$PORT/api/v1/config/reload")
[ "$status" = 422 ] || fail "the API answered $status to a broken set"
sleep 0.5
[ "$(versions)" = 1 ] || fail "a refused set was recorded"
curl -fsS "http://127.0.0.1:$PORT/healthz" > /dev/null || fail "serve stopped after a refused reload"
kill -HUP $SERVE
for _ in $(seq 50); do "$COHORT" alerts --json | grep -q config_reload_failed && break; sleep 0.1; done
"$COHORT" alerts --json | grep -q config_reload_failed || fail "a SIGHUP with broken files raised no alert"
[ "$(versions)" = 1 ] || fail "a set refused on SIGHUP was recorded"
curl -fsS "http://127.0.0.1:$PORT/healthz" > /dev/null || fail "serve stopped after a refused SIGHUP"

cp tags.good Config/tags.yaml
sed -i 's/高价值/高价值客户/' Config/tags.yaml
"$COHORT" config plan | grep -q "tags.yaml +1 -1" || fail "config plan does not show the change"
"$COHORT" config reload > /dev/null
for _ in $(seq 50); do [ "$(versions)" = 2 ] && break; sleep 0.1; done
[ "$(versions)" = 2 ] || fail "the reloaded set was not recorded"
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$PORT/healthz" > /dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$PORT/healthz" > /dev/null || fail "serve did not come back after the reload"

"$COHORT" config rollback 1 | grep -q "tags.yaml +1 -1" || fail "the rollback plan does not show what changes"
api() { curl -fsS -H "Authorization: Bearer reload-test" "$@"; }
api "http://127.0.0.1:$PORT/api/v1/config/plan" | python3 -c 'import json,sys; p=json.load(sys.stdin); assert p["files"] == [], p["files"]' \
    || fail "GET /api/v1/config/plan does not show the files on disk as running"
api -X POST "http://127.0.0.1:$PORT/api/v1/config/rollback/1" | python3 -c 'import json,sys; p=json.load(sys.stdin); assert p["files"] == ["tags.yaml +1 -1"], p' \
    || fail "POST /api/v1/config/rollback/1 does not plan the rollback"
grep -q "高价值客户" Config/tags.yaml || fail "a rollback without --apply wrote files"
"$COHORT" config rollback 1 --apply > /dev/null
grep -q "高价值客户" Config/tags.yaml && fail "the rollback did not restore the files"
for _ in $(seq 50); do [ "$(versions)" = 3 ] && break; sleep 0.1; done
[ "$(versions)" = 3 ] || fail "the rollback was not recorded"
"$COHORT" audit --json | python3 -c '
import json, sys
actions = [e["action"] for e in json.load(sys.stdin)]
for wanted in ["config.apply", "config.reload_refused", "config.rollback"]:
    assert wanted in actions, (wanted, actions)
' || fail "the audit log misses an action"
kill $SERVE; wait $SERVE 2>/dev/null || true
echo "config reload test: refused a broken set (CLI and API), reloaded a good one, rolled back; 3 versions recorded"
