#!/usr/bin/env bash
# Kill -9 `cohort` at random points while it dispatches a campaign, restart it each time,
# then check against the simulator's own records that every planned recipient is in exactly
# one task: nobody messaged twice, nobody lost.
#
#   scripts/campaign-crash-test.sh [ROUNDS] [CONTACTS]     (default 20 rounds, 1500 contacts)
#
# Uses the debug build in .build/debug (run `swift build` first). Exits 1 on any violation.
set -euo pipefail
ROUNDS=${1:-20}
CONTACTS=${2:-1500}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${COHORT_BIN:-$ROOT/.build/debug}
WORK=$(mktemp -d)
PORT=${CRASH_TEST_PORT:-18391}
trap 'kill $SIM 2>/dev/null || true; rm -rf "$WORK"' EXIT

mkdir -p "$WORK/Config" "$WORK/Templates"
cat > "$WORK/Config/cohort.yaml" <<YAML
platform:
  corp_id: wx5823bf96d3bd56c7
YAML
cat > "$WORK/Config/segments.yaml" <<'YAML'
segments:
  - name: everyone
    rule: relations >= 1
YAML
# A personal text per contact: one task per recipient, so a dispatch is many calls long.
cat > "$WORK/Config/campaigns.yaml" <<'YAML'
dispatch:
  frequency_caps: [platform_quota]
campaigns:
  - name: crash
    segment: everyone
    template: personal.mustache
    max_tasks_per_sender: 10000
YAML
echo '{{contact.external_userid}}，您好！' > "$WORK/Templates/personal.mustache"

"$BIN/cohort-sim" --port "$PORT" --staff 15 --contacts "$CONTACTS" --seed 5 --confirm-delay 3600 > "$WORK/sim.log" 2>&1 &
SIM=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/sim/inspect" > /dev/null 2>&1 && break; sleep 0.2; done

export WECOM_API_BASE="http://127.0.0.1:$PORT" WECOM_SECRET=sim-secret COHORT_DATABASE="$WORK/cohort.sqlite"
export COHORT_CONFIG_DIR="$WORK/Config" COHORT_TEMPLATES_DIR="$WORK/Templates" COHORT_LOG_LEVEL=error
cd "$WORK"
"$BIN/cohort" sync > /dev/null
"$BIN/cohort" campaign start crash

kills=0
for round in $(seq "$ROUNDS"); do
  "$BIN/cohort" campaign dispatch crash > "$WORK/round.log" 2>&1 &
  PID=$!
  # Somewhere between start-up and the middle of a dispatch.
  sleep "$(python3 -c 'import random; print(round(random.uniform(0.2, 1.2), 2))')"
  if kill -9 "$PID" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$PID" 2>/dev/null || true
done
echo "killed cohort $kills times during dispatch; finishing"
"$BIN/cohort" campaign dispatch crash | tail -2
"$BIN/cohort" campaign report crash --json > "$WORK/report.json"
curl -sf "http://127.0.0.1:$PORT/sim/inspect" > "$WORK/inspect.json"

python3 - "$WORK/report.json" "$WORK/inspect.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
inspect = json.load(open(sys.argv[2]))
counts = {}
for task in inspect["tasks"]:
    for sender, recipients in task["senders"].items():
        for r in recipients:
            counts[r] = counts.get(r, 0) + 1
twice = [r for r, n in counts.items() if n > 1]
planned = report["planned"]
failed = sum(report["failed"].values())
problems = []
if twice: problems.append(f"{len(twice)} contacts are in more than one task, e.g. {twice[:3]}")
if report["awaitingDispatch"] != 0: problems.append(f"{report['awaitingDispatch']} recipients were never dispatched")
if len(counts) != planned - failed: problems.append(f"the platform has {len(counts)} recipients, the ledger planned {planned} with {failed} failed")
if report["tasksCreated"] != len(inspect["tasks"]): problems.append(f"ledger has {report['tasksCreated']} tasks, the platform {len(inspect['tasks'])}")
print(f"planned {planned}, on the platform {len(counts)} in {len(inspect['tasks'])} tasks, twice {len(twice)}, failed {failed}")
if problems:
    print("FAIL: " + "; ".join(problems)); sys.exit(1)
print("OK: every planned recipient is in exactly one task")
PY
