#!/usr/bin/env bash
# Kill -9 `cohort sync` and `cohort grade --apply` at random points, ROUNDS times each,
# restarting each time; then finish both and check that nothing was lost or done twice:
#   - the store passes SQLite's integrity check;
#   - a complete sync leaves no drift against the simulator (`cohort sync --check` exits 0);
#   - a complete apply leaves nothing to do (`grade --plan`: 0 grades, 0 transitions, 0 calls);
#   - no lifecycle transition is recorded twice and no relation has two queued tag writes;
#   - pushing the queue puts every planned tag on the platform once.
#
#   scripts/crash-test.sh [ROUNDS] [CONTACTS]     (default 50 rounds, 20000 contacts)
#
# Uses the debug build in .build/debug (cohort and cohort-sim). Exits 1 on any violation.
set -euo pipefail
ROUNDS=${1:-50}
CONTACTS=${2:-20000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${COHORT_BIN:-$ROOT/.build/debug}
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
trap 'kill $SIM 2>/dev/null || true; rm -rf "$WORK"' EXIT
fail() { echo "crash test FAILED: $*" >&2; exit 1; }

mkdir -p "$WORK/Config"
cp "$ROOT/Config/grading.yaml" "$ROOT/Config/tags.yaml" "$WORK/Config/"
printf 'platform:\n  corp_id: wx5823bf96d3bd56c7\n' > "$WORK/Config/cohort.yaml"
"$BIN/cohort-sim" --port "$PORT" --staff 40 --contacts "$CONTACTS" --seed 9 > "$WORK/sim.log" 2>&1 &
SIM=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/sim/inspect" > /dev/null 2>&1 && break; sleep 0.2; done
export WECOM_API_BASE="http://127.0.0.1:$PORT" WECOM_SECRET=sim-secret COHORT_DATABASE="$WORK/cohort.sqlite"
export COHORT_CONFIG_DIR="$WORK/Config" COHORT_LOG_LEVEL=critical
cd "$WORK"

# Kills a command at a random point of its run; `$2` is how long a whole run takes.
crash_rounds() {
  local name=$1 span=$2; shift 2
  local kills=0
  for _ in $(seq "$ROUNDS"); do
    "$@" > /dev/null 2>&1 &
    local pid=$!
    # Runs after the first are quicker (less to write): aim inside the quickest.
    sleep "$(python3 -c "import random; print(round(random.uniform(0.05, 0.9 * $span), 3))")"
    if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
    wait "$pid" 2>/dev/null || true
  done
  echo "$name: killed $kills of $ROUNDS runs"
}
integrity() {
  python3 -c "import sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchall(); sys.exit(0 if r==[('ok',)] else 1)" cohort.sqlite \
    || fail "integrity check: $1"
}
timed() { python3 -c 'import subprocess,sys,time; t=time.time(); subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True); print(round(time.time()-t, 2))' "$@"; }

# Sync: how long a repeat one takes (on a scratch file), then crash the real one.
COHORT_DATABASE=$WORK/scratch.sqlite "$BIN/cohort" sync > /dev/null 2>&1
SYNC_SECONDS=$(COHORT_DATABASE=$WORK/scratch.sqlite timed "$BIN/cohort" sync)
crash_rounds sync "$SYNC_SECONDS" "$BIN/cohort" sync
integrity "after the sync crashes"
"$BIN/cohort" sync > sync.log
"$BIN/cohort" sync --check > drift.log 2>&1 || fail "a complete sync after $ROUNDS crashes left drift: $(head -5 drift.log)"
echo "sync: the store equals the platform ($(head -1 sync.log))"

# Orders for a third of the contacts, then crash the apply.
python3 - "$WORK/cohort.sqlite" > orders.csv <<'PY'
import sqlite3, sys, random
random.seed(3)
ids = [r[0] for r in sqlite3.connect(sys.argv[1]).execute("SELECT external_userid FROM contacts ORDER BY external_userid")]
print("kind,external_userid,occurred_at,amount,source_id")
n = 0
for i, id in enumerate(ids):
    if i % 3: continue
    for _ in range(random.randint(1, 6)):
        n += 1
        print(f"order,{id},2026-{random.randint(1, 11):02d}-{random.randint(1, 28):02d},{random.randint(20, 900)}.00,o{n}")
PY
"$BIN/cohort" import interactions orders.csv --source shop > /dev/null
cp cohort.sqlite scratch.sqlite && COHORT_DATABASE=$WORK/scratch.sqlite "$BIN/cohort" grade --apply > /dev/null 2>&1
APPLY_SECONDS=$(COHORT_DATABASE=$WORK/scratch.sqlite timed "$BIN/cohort" grade --apply)
crash_rounds "grade --apply" "$APPLY_SECONDS" "$BIN/cohort" grade --apply
integrity "after the apply crashes"
"$BIN/cohort" grade --apply > apply.log
"$BIN/cohort" grade --plan --json > plan.json
python3 - plan.json cohort.sqlite <<'PY' || fail "the store is not consistent after the apply crashes"
import json, sqlite3, sys
plan = json.load(open(sys.argv[1]))
db = sqlite3.connect(sys.argv[2])
problems = []
if plan["gradesChanged"] or plan["transitions"]:
    problems.append(f"a complete apply left {plan['gradesChanged']} grades and {plan['transitions']} transitions to do")
pending = db.execute("SELECT count(*) FROM platform_ops WHERE status = 'pending'").fetchone()[0]
if plan["platform"]["markTag"] != pending:
    problems.append(f"the plan needs {plan['platform']['markTag']} tag writes, {pending} are queued")
twice = db.execute("""SELECT count(*) FROM (SELECT external_userid, from_stage, to_stage FROM lifecycle_history
    GROUP BY external_userid, ifnull(from_stage, ''), to_stage HAVING count(*) > 1)""").fetchone()[0]
if twice: problems.append(f"{twice} lifecycle transitions recorded twice")
queued = db.execute("""SELECT count(*) FROM (SELECT target FROM platform_ops WHERE status = 'pending' GROUP BY target HAVING count(*) > 1)""").fetchone()[0]
if queued: problems.append(f"{queued} relations have two pending tag writes")
graded = db.execute("SELECT count(*) FROM grades").fetchone()[0]
contacts = db.execute("SELECT count(*) FROM contacts").fetchone()[0]
if graded != contacts: problems.append(f"{graded} grades for {contacts} contacts")
print(f"grade: {graded} contacts graded once; {pending} tag writes queued, each relation once; no transition twice")
if problems:
    print("; ".join(problems)); sys.exit(1)
PY
"$BIN/cohort" tags push > push.log 2> push.err
"$BIN/cohort" grade --plan --json | python3 -c 'import json,sys; p=json.load(sys.stdin); sys.exit(0 if p["platform"]["markTag"] == 0 else 1)' \
  || fail "after pushing the queue the platform still misses tags"
integrity "at the end"
echo "crash test: OK ($(tail -1 push.log))"
