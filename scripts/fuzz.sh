#!/usr/bin/env bash
# libFuzzer on what untrusted input reaches: the callback envelope, the decrypted plaintext
# layout and the event XML (scripts/fuzz/FuzzCallback.swift), and the rule language (scripts/fuzz/FuzzRules.swift).
#
#   scripts/fuzz.sh [SECONDS] [TARGET ...]      (default 600 s each; targets: callback rules)
#
# Each target is built with `swiftc -sanitize=fuzzer,address` from the sources it exercises (the
# package's modules compiled together, so no SwiftPM change is needed), seeded from
# scripts/fuzz/corpus/TARGET, and run for SECONDS. New inputs go to .build-fuzz/corpus-TARGET; a crash,
# leak, timeout or memory blow-up stops the run, leaves the input in .build-fuzz and fails.
set -euo pipefail
SECONDS_EACH=${1:-600}
shift || true
TARGETS=("${@:-callback}")
[ $# -eq 0 ] && TARGETS=(callback rules)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/.build-fuzz"
mkdir -p "$OUT"

sources() {
  case $1 in
    callback) echo "$ROOT"/Sources/CohortCore/*/*.swift "$ROOT"/Sources/CohortCore/*/*/*.swift \
      "$ROOT"/Sources/WeComKit/Callback/CallbackXML.swift "$ROOT"/Sources/WeComKit/Callback/CallbackXMLScanner.swift \
      "$ROOT"/Sources/WeComKit/Callback/CallbackPlaintext.swift "$ROOT"/scripts/fuzz/FuzzCallback.swift ;;
    rules) echo "$ROOT"/Sources/CohortCore/*/*.swift "$ROOT"/Sources/CohortCore/*/*/*.swift "$ROOT"/scripts/fuzz/FuzzRules.swift ;;
    *) echo "unknown target $1" >&2; exit 2 ;;
  esac
}

for target in "${TARGETS[@]}"; do
  src="$OUT/src-$target"
  rm -rf "$src" && mkdir -p "$src"
  # One module: the modules' imports of each other go.
  for file in $(sources "$target"); do
    [ -f "$file" ] || continue
    sed '/^import CohortCore$/d' "$file" > "$src/$(echo "$file" | sed "s|$ROOT/||; s|/|_|g")"
  done
  echo "fuzz: building $target"
  swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name "Fuzz$target" "$src"/*.swift -o "$OUT/fuzz-$target" 2>&1 \
    | grep -v "ld.gold: warning: Cannot export local symbol" || true
  mkdir -p "$OUT/corpus-$target"
  echo "fuzz: running $target for $SECONDS_EACH s"
  (cd "$OUT" && "$OUT/fuzz-$target" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 "$OUT/corpus-$target" "$ROOT/scripts/fuzz/corpus/$target" > "$OUT/$target.log" 2>&1) || {
    tail -40 "$OUT/$target.log"; echo "fuzz: $target FAILED (input saved in $OUT)"; exit 1; }
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|Done [0-9]+ runs" "$OUT/$target.log" | tr '\n' ' '
  echo
  echo "fuzz: $target ok"
done
