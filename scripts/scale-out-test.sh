#!/usr/bin/env bash
# Three `cohort serve` instances on one PostgreSQL, with callbacks spread across them and a
# campaign dispatching, while each instance in turn is killed -9 and restarted. Afterwards, against the
# database and the simulator's own records:
#   - every callback acknowledged is stored once (retried and repeated deliveries included,
#     whichever instance they reached) and handled;
#   - every campaign recipient is on the platform exactly once (each instance is killed once);
#   - the end state equals a single-instance run: the recipients and senders on the platform
#     are those a single SQLite instance plans from the same corp.
#
#   scripts/scale-out-test.sh [LOAD_SECONDS] [CONTACTS]    (default 60 s, 2000 contacts)
#
# Needs a PostgreSQL: SCALE_OUT_POSTGRES_URL or COHORT_TEST_POSTGRES_URL (postgres://user:pw@host/db);
# a schema of its own is created and dropped. Uses .build/debug (or COHORT_BIN): swift build first.
set -euo pipefail
LOAD_SECONDS=${1:-60}
CONTACTS=${2:-2000}
PG=${SCALE_OUT_POSTGRES_URL:-${COHORT_TEST_POSTGRES_URL:?set COHORT_TEST_POSTGRES_URL to a postgres:// URL}}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${COHORT_BIN:-$ROOT/.build/debug}
WORK=$(mktemp -d)
SCHEMA="scaleout_$$_$(date +%s)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
SIM_PORT=$(free_port)
PORTS=("$(free_port)" "$(free_port)" "$(free_port)")
PIDS=("" "" "")
SIM="" LOAD=""
psql_schema() { psql "$PG" -v ON_ERROR_STOP=1 -qAt -c "SET search_path TO $SCHEMA; $1"; }
cleanup() {
  for pid in $LOAD "${PIDS[@]}" $SIM; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$PG" -qAt -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" > /dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "scale-out FAILED: $*" >&2; for n in 0 1 2; do echo "--- serve $n"; tail -5 "$WORK/serve-$n.log" 2>/dev/null; done >&2; exit 1; }

mkdir -p "$WORK/Config" "$WORK/Templates"
# 600 add_msg_template calls a minute for all instances together (the shared budget): the
# campaign, one task per recipient, dispatches for minutes, so the kill lands mid-dispatch.
cat > "$WORK/Config/cohort.yaml" <<YAML
platform:
  corp_id: wx5823bf96d3bd56c7
  rate_limit:
    per_minute: 600
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
  - name: scale
    segment: everyone
    template: personal.mustache
    max_tasks_per_sender: 10000
YAML
echo '{{contact.external_userid}}，您好！' > "$WORK/Templates/personal.mustache"

"$BIN/cohort-sim" --port "$SIM_PORT" --staff 20 --contacts "$CONTACTS" --seed 8 --confirm-delay 3600 > "$WORK/sim.log" 2>&1 &
SIM=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$SIM_PORT/sim/inspect" > /dev/null 2>&1 && break; sleep 0.2; done

case "$PG" in *\?*) DATABASE="$PG&schema=$SCHEMA" ;; *) DATABASE="$PG?schema=$SCHEMA" ;; esac
export WECOM_API_BASE="http://127.0.0.1:$SIM_PORT" WECOM_SECRET=sim-secret COHORT_DATABASE="$DATABASE"
export WECOM_CORP_ID=wx5823bf96d3bd56c7 WECOM_TOKEN=scaleToken WECOM_AES_KEY=jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C
export COHORT_CONFIG_DIR="$WORK/Config" COHORT_TEMPLATES_DIR="$WORK/Templates" COHORT_LOG_LEVEL=warning COHORT_HTTP_HOST=127.0.0.1
cd "$WORK"

echo "scale-out: sync into PostgreSQL (schema $SCHEMA)"
"$BIN/cohort" sync | tail -1
psql_schema "SELECT userid, external_userid FROM relations WHERE ended_at IS NULL ORDER BY external_userid, userid" | tr '|' '\t' > relations.tsv
echo "scale-out: $(wc -l < relations.tsv) relations"

start_instance() {
  COHORT_HTTP_PORT=${PORTS[$1]} "$BIN/cohort" serve >> "serve-$1.log" 2>&1 &
  PIDS[$1]=$!
  for _ in $(seq 150); do curl -sf "http://127.0.0.1:${PORTS[$1]}/healthz" > /dev/null 2>&1 && return 0; sleep 0.2; done
  fail "instance $1 did not start"
}
for n in 0 1 2; do start_instance "$n"; done
echo "scale-out: 3 instances on ports ${PORTS[*]}"
"$BIN/cohort" campaign start scale | tail -1

URLS="http://127.0.0.1:${PORTS[0]},http://127.0.0.1:${PORTS[1]},http://127.0.0.1:${PORTS[2]}"
"$BIN/cohort-bench" soak --url "$URLS" --seconds "$LOAD_SECONDS" --rate 20 --burst-size 0 --burst-every 0 \
  --interval 10 --repeat-every 10 --retries 3 --relations relations.tsv > soak.jsonl 2> soak.err &
LOAD=$!

# Mid-load and mid-dispatch: each instance in turn dies without warning, then comes back.
for n in 0 1 2; do
  sleep $(( LOAD_SECONDS / 4 ))
  created=$(psql_schema "SELECT count(*) FROM campaign_tasks WHERE state = 'created'")
  calling=$(psql_schema "SELECT count(*) FROM campaign_tasks WHERE state = 'calling'")
  kill -9 "${PIDS[$n]}"; wait "${PIDS[$n]}" 2>/dev/null || true
  echo "scale-out: killed instance $n (-9) with $created tasks created, $calling calls in flight"
  sleep 3
  start_instance "$n"
  echo "scale-out: instance $n restarted"
done
wait "$LOAD" || fail "the load generator failed: $(tail -3 soak.err)"
LOAD=""

echo "scale-out: waiting for the inbox and the campaign to finish"
deadline=$(( $(date +%s) + 900 ))
while true; do
  open=$(psql_schema "SELECT count(*) FROM inbox WHERE status IN ('pending', 'failed')")
  undispatched=$(psql_schema "SELECT count(*) FROM campaign_tasks WHERE state IN ('pending', 'calling')")
  [ "$open" = 0 ] && [ "$undispatched" = 0 ] && break
  [ "$(date +%s)" -gt "$deadline" ] && fail "not finished in 15 minutes: $open events open, $undispatched tasks undispatched"
  sleep 5
done
for n in 0 1 2; do kill -TERM "${PIDS[$n]}"; done
for n in 0 1 2; do wait "${PIDS[$n]}" 2>/dev/null || true; PIDS[$n]=""; done

"$BIN/cohort" campaign report scale --json > report.json
curl -sf "http://127.0.0.1:$SIM_PORT/sim/inspect" > inspect.json
psql_schema "SELECT count(*), coalesce(sum(duplicates), 0), count(*) FILTER (WHERE status = 'processed'), count(*) FILTER (WHERE status NOT IN ('processed')) FROM inbox WHERE change_type = 'edit_external_contact'" > inbox.txt
psql_schema "SELECT count(*) FROM (SELECT dedup_key FROM inbox GROUP BY corp_id, create_time, dedup_key HAVING count(*) > 1) d" > inbox-twice.txt
psql_schema "SELECT created_at FROM campaign_tasks WHERE created_at IS NOT NULL ORDER BY created_at" > created.txt

# The same corp planned by one instance on SQLite: what a single-instance run sends.
COHORT_DATABASE="$WORK/single.sqlite" "$BIN/cohort" sync > /dev/null
COHORT_DATABASE="$WORK/single.sqlite" "$BIN/cohort" campaign dry-run scale --json > single.json

python3 - <<'PY'
import json
lines = [json.loads(l) for l in open("soak.jsonl") if l.startswith("{")]
soak = lines[-1]
report = json.load(open("report.json"))
inspect = json.load(open("inspect.json"))
single = json.load(open("single.json"))
stored, duplicates, processed, other = map(int, open("inbox.txt").read().strip().split("|"))
twice_keys = int(open("inbox-twice.txt").read().strip())
problems = []
if stored != soak["ok"]:
    problems.append(f"{soak['ok']} events acknowledged but {stored} stored")
if twice_keys:
    problems.append(f"{twice_keys} events stored twice")
if duplicates < soak["repeated_deliveries"]:
    problems.append(f"{soak['repeated_deliveries']} repeated deliveries acknowledged but only {duplicates} counted as duplicates")
if other:
    problems.append(f"{other} events not processed")
on_platform = {}
twice = []
for task in inspect["tasks"]:
    for sender, recipients in task["senders"].items():
        for r in recipients:
            if r in on_platform: twice.append(r)
            on_platform[r] = sender
if twice:
    problems.append(f"{len(twice)} recipients sent twice, e.g. {twice[:3]}")
planned = {r["externalUserID"]: r["sender"] for r in single["recipients"]}
if on_platform != planned:
    missing = set(planned) - set(on_platform)
    extra = set(on_platform) - set(planned)
    moved = [r for r in set(planned) & set(on_platform) if planned[r] != on_platform[r]]
    problems.append(f"the platform differs from a single-instance plan: {len(missing)} missing, {len(extra)} extra, {len(moved)} from another sender")
# The quota is shared: all instances together made at most 600 add_msg_template calls in any
# minute (a task's created_at is its call's second, give or take the answer's latency).
created = [int(l) for l in open("created.txt").read().split()]
busiest, start = 0, 0
for end in range(len(created)):
    while created[end] - created[start] >= 60: start += 1
    busiest = max(busiest, end - start + 1)
if busiest > 600 + 10:
    problems.append(f"{busiest} add_msg_template calls in one minute across the instances, over the shared 600")
if report["tasksCreated"] != len(inspect["tasks"]):
    problems.append(f"ledger has {report['tasksCreated']} tasks, the platform {len(inspect['tasks'])}")
print(f"scale-out: {soak['sent']} events over {soak['instances']} instances, {soak['ok']} acknowledged "
      f"({soak['retried_deliveries']} deliveries retried on another instance, {soak['repeated_deliveries']} repeated), "
      f"{stored} stored, {duplicates} duplicates absorbed, {processed} processed; p50 {soak['p50_ms']} ms, p99 {soak['p99_ms']} ms")
print(f"scale-out: campaign {report['planned']} planned, {len(on_platform)} recipients on the platform in {len(inspect['tasks'])} tasks, "
      f"{len(twice)} twice; single-instance plan {len(planned)} recipients; at most {busiest} calls in any minute (shared quota 600)")
if problems:
    print("FAIL: " + "; ".join(problems)); raise SystemExit(1)
print("OK: every acknowledged event stored once and handled; every recipient sent exactly once; the end state equals a single-instance run")
PY
