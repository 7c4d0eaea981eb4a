#!/usr/bin/env bash
# The dashboard, rendered by headless Chromium, shows the store's numbers.
#
# Runs after `cohort demo` (which leaves data/cohort.sqlite); runs it first when the database is
# missing. Starts `cohort serve` on a free loopback port against that database, loads
# /dashboard in headless Chromium (--dump-dom: the DOM after the page's script ran), and checks
# the rendered numbers against the database and the CLI's JSON.
set -euo pipefail
cd "$(dirname "$0")/.."

COHORT=${COHORT:-.build/debug/cohort}
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
[ -n "$CHROMIUM" ] || { echo "dashboard test: no chromium found" >&2; exit 1; }
DB=${COHORT_DATABASE:-data/cohort.sqlite}
[ -f "$DB" ] || "$COHORT" demo > /dev/null

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
WORK=$(mktemp -d)
export COHORT_HTTP_PORT=$PORT COHORT_DATABASE=$DB COHORT_LOG_LEVEL=error
export WECOM_TOKEN=QDG6eK WECOM_AES_KEY=jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C
unset WECOM_SECRET
"$COHORT" serve > "$WORK/serve.log" 2>&1 &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$PORT/healthz" > /dev/null 2>&1 && break; sleep 0.1; done

"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --dump-dom \
    "http://127.0.0.1:$PORT/dashboard" > "$WORK/dom.html" 2> "$WORK/chromium.log"
"$COHORT" segments list --json > "$WORK/segments.json"
"$COHORT" campaign list > /dev/null 2>&1 || true

python3 - "$WORK/dom.html" "$DB" "$WORK/segments.json" <<'PY'
import html.parser, json, sqlite3, sys
dom_path, db_path, segments_path = sys.argv[1:4]

class Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.values = {}; self.styles = {}; self.stack = []
    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.stack.append(attrs.get("id"))
        if attrs.get("id"): self.values[attrs["id"]] = ""; self.styles[attrs["id"]] = attrs.get("style", "")
    def handle_endtag(self, tag):
        if self.stack: self.stack.pop()
    def handle_data(self, data):
        for ident in self.stack:
            if ident: self.values[ident] += data

page = Ids(); page.feed(open(dom_path, encoding="utf-8").read())
v = page.values
db = sqlite3.connect(db_path)
problems, checked = [], 0
def expect(ident, want):
    global checked
    got = v.get(ident, "<missing>").strip()
    checked += 1
    if got != str(want): problems.append(f"{ident}: page shows {got!r}, expected {want!r}")

for stage, n in db.execute("SELECT lifecycle, count(*) FROM grades GROUP BY lifecycle"): expect(f"lifecycle-{stage}", n)
for r, f, n in db.execute("SELECT r, f, count(*) FROM grades WHERE r IS NOT NULL AND f IS NOT NULL GROUP BY r, f"): expect(f"rf-{r}-{f}", n)
scored = db.execute("SELECT count(*) FROM grades WHERE r IS NOT NULL AND f IS NOT NULL").fetchone()[0]
expect("rf-total", scored)  # computed by the page's script, so only a real browser fills it
for tier, n in db.execute("SELECT abc, count(*) FROM grades WHERE abc IS NOT NULL GROUP BY abc"): expect(f"abc-{tier}", n)
expect("contacts", db.execute("SELECT count(*) FROM contacts WHERE ended_at IS NULL").fetchone()[0])
for segment in json.load(open(segments_path)): expect(f"segment-{segment['name']}", segment["size"])
for name, state in db.execute("SELECT name, state FROM campaigns"):
    expect(f"campaign-{name}-state", state)
    expect(f"campaign-{name}-sent", db.execute("SELECT count(*) FROM campaign_recipients WHERE campaign = ? AND state = 'sent'", (name,)).fetchone()[0])
shaded = [i for i, s in page.styles.items() if i.startswith("rf-") and "background" in s]
if not shaded: problems.append("the heat map was not shaded: the page's script did not run")
if problems:
    print("dashboard test FAILED:"); [print("  " + p) for p in problems]; sys.exit(1)
print(f"dashboard test: {checked} numbers on the rendered page match the store; heat map shaded in {len(shaded)} cells")
PY
