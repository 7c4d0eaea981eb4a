#!/usr/bin/env bash
# Soak: callbacks at a steady rate with bursts into `cohort serve` for MINUTES, while a campaign
# dispatches (rate-limited so it lasts) and `cohort sync` runs again and again beside it.
# `cohort-bench soak` prints throughput, latency and the server's memory per minute; afterwards
# the script checks that nothing was lost or done twice:
#   - every callback answered 200 is in the inbox once, and the processor handled all of them;
#   - no campaign recipient is in two tasks on the platform;
#   - the store passes SQLite's integrity check.
#
#   scripts/soak.sh [MINUTES] [RATE] [BURST] [BURST_EVERY]   (default 30 minutes, 100 callbacks/s, bursts of 2000 every 120 s)
#
# Uses the release build (swift build -c release --product cohort; --product cohort-sim;
# --product cohort-bench), or COHORT_BIN. Results go to $SOAK_OUT (default ./soak-results).
set -euo pipefail
MINUTES=${1:-30}
RATE=${2:-100}
BURST=${3:-2000}
BURST_EVERY=${4:-120}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${COHORT_BIN:-$ROOT/.build/release}
OUT=${SOAK_OUT:-$PWD/soak-results}
WORK=$(mktemp -d)
mkdir -p "$OUT"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
SIM_PORT=$(free_port)
HTTP_PORT=$(free_port)
SIM="" SERVE="" SYNCS=""
cleanup() {
  for pid in $SYNCS $SERVE $SIM; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "soak FAILED: $*" >&2; exit 1; }

mkdir -p "$WORK/Config" "$WORK/Templates"
# 3,000 calls per API and minute: the campaign (one add_msg_template per recipient) lasts ten
# minutes instead of finishing in the first one, and the inbox re-reads at most 50 customers a
# second, far fewer than the callbacks arriving, so it must answer many edits with one re-read.
cat > "$WORK/Config/cohort.yaml" <<YAML
platform:
  corp_id: wx5823bf96d3bd56c7
  rate_limit:
    per_minute: 3000
YAML
cat > "$WORK/Config/segments.yaml" <<'YAML'
segments:
  - name: everyone
    rule: relations >= 1
YAML
cat > "$WORK/Config/campaigns.yaml" <<'YAML'
dispatch:
  frequency_caps: [platform_quota]
campaigns:
  - name: soak
    segment: everyone
    template: personal.mustache
    max_tasks_per_sender: 10000
YAML
echo '{{contact.external_userid}}，您好！' > "$WORK/Templates/personal.mustache"

"$BIN/cohort-sim" --port "$SIM_PORT" --staff 100 --contacts 30000 --seed 11 --confirm-delay 30 > "$WORK/sim.log" 2>&1 &
SIM=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$SIM_PORT/sim/inspect" > /dev/null 2>&1 && break; sleep 0.2; done

export WECOM_API_BASE="http://127.0.0.1:$SIM_PORT" WECOM_SECRET=sim-secret COHORT_DATABASE="$WORK/cohort.sqlite"
export WECOM_CORP_ID=wx5823bf96d3bd56c7 WECOM_TOKEN=soakToken WECOM_AES_KEY=jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C
export COHORT_CONFIG_DIR="$WORK/Config" COHORT_TEMPLATES_DIR="$WORK/Templates" COHORT_LOG_LEVEL=warning
export COHORT_HTTP_PORT=$HTTP_PORT COHORT_HTTP_HOST=127.0.0.1
cd "$WORK"

echo "soak: first sync"
"$BIN/cohort" sync | tail -1
python3 - <<'PY' > relations.tsv
import sqlite3
for userid, external in sqlite3.connect("cohort.sqlite").execute(
        "SELECT userid, external_userid FROM relations WHERE ended_at IS NULL ORDER BY external_userid, userid"):
    print(f"{userid}\t{external}")
PY
echo "soak: $(wc -l < relations.tsv) relations"

"$BIN/cohort" serve > serve.log 2>&1 &
SERVE=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" > /dev/null 2>&1 && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" > /dev/null || fail "serve did not start: $(tail -5 serve.log)"
"$BIN/cohort" campaign start soak | tail -1

# A sync beside the soak the whole time: one after another, each a separate process on the same store.
(
  while true; do "$BIN/cohort" sync >> sync.log 2>&1 || echo "sync exited $?" >> sync.log; sleep 30; done
) &
SYNCS=$!

"$BIN/cohort-bench" soak --url "http://127.0.0.1:$HTTP_PORT" --server-pid "$SERVE" --seconds $((MINUTES * 60)) \
  --rate "$RATE" --burst-size "$BURST" --burst-every "$BURST_EVERY" --interval 60 --relations relations.tsv | tee "$OUT/soak.jsonl"
kill "$SYNCS" 2>/dev/null || true
wait "$SYNCS" 2>/dev/null || true
SYNCS=""
echo "soak: syncs beside it: $(grep -c '^synced\|contacts' sync.log || true) completed, $(grep -c 'exited' sync.log || true) failed"

# Let the processor finish what was accepted (as long as it keeps making progress), then stop
# the server the way an operator does.
open_events() {
  python3 -c "import sqlite3; print(sqlite3.connect('cohort.sqlite').execute(\"SELECT count(*) FROM inbox WHERE status IN ('pending','failed')\").fetchone()[0])"
}
drain_started=$(date +%s)
last=$(open_events) last_progress=$drain_started
echo "soak: $last events open when the load stopped"
while [ "$last" != 0 ] && [ $(( $(date +%s) - last_progress )) -lt 120 ]; do
  sleep 5
  now_open=$(open_events)
  if [ "$now_open" -lt "$last" ]; then last_progress=$(date +%s); fi
  last=$now_open
done
echo "soak: inbox drained to $last open in $(( $(date +%s) - drain_started )) s"
kill -TERM "$SERVE"
wait "$SERVE" || true
SERVE=""
"$BIN/cohort" campaign report soak --json > report.json
curl -sf "http://127.0.0.1:$SIM_PORT/sim/inspect" > inspect.json
cp serve.log sync.log "$OUT/" 2>/dev/null || true

python3 - "$OUT/soak.jsonl" report.json inspect.json <<'PY'
import json, sqlite3, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
summary = lines[-1]
report = json.load(open(sys.argv[2]))
inspect = json.load(open(sys.argv[3]))
db = sqlite3.connect("cohort.sqlite")
problems = []
if db.execute("PRAGMA integrity_check").fetchall() != [("ok",)]:
    problems.append("integrity check failed")
stored = db.execute("SELECT count(*) FROM inbox WHERE change_type = 'edit_external_contact'").fetchone()[0]
by_status = dict(db.execute("SELECT status, count(*) FROM inbox GROUP BY status").fetchall())
covered = db.execute("SELECT count(*) FROM inbox WHERE note LIKE 'covered by inbox #%'").fetchone()[0]
if stored != summary["ok"]:
    problems.append(f"{summary['ok']} callbacks answered 200 but {stored} stored")
open_events = by_status.get("pending", 0) + by_status.get("failed", 0)
if open_events or by_status.get("dead", 0):
    problems.append(f"inbox not drained: {by_status}")
counts = {}
for task in inspect["tasks"]:
    for sender, recipients in task["senders"].items():
        for r in recipients:
            counts[r] = counts.get(r, 0) + 1
twice = [r for r, n in counts.items() if n > 1]
if twice:
    problems.append(f"{len(twice)} recipients in more than one task")
rss = [l["server_rss_mib"] for l in lines[:-1] if "server_rss_mib" in l]
print(f"soak: {summary['sent']} callbacks, {summary['ok']} accepted, {summary['errors']} errors, "
      f"p50 {summary['p50_ms']} ms, p99 {summary['p99_ms']} ms; stored {stored}, inbox {by_status} "
      f"({covered} answered by a later re-read of their customer); "
      f"server RSS {min(rss) if rss else '?'}..{max(rss) if rss else '?'} MiB; "
      f"campaign: {report['planned']} planned, {report['tasksCreated']} tasks, {len(counts)} recipients on the platform, {len(twice)} twice")
if problems:
    print("FAIL: " + "; ".join(problems)); sys.exit(1)
print("OK: every accepted callback stored once and handled; no recipient twice; store intact")
PY
