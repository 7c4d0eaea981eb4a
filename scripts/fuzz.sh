#!/usr/bin/env bash
# libFuzzer on what untrusted input reaches: the callback envelope, the decrypted plaintext
# layout and the event XML (scripts/fuzz/FuzzCallback.swift), the rule language
# (scripts/fuzz/FuzzRules.swift) and the config loader with Yams (scripts/fuzz/FuzzConfig.swift).
#
#   scripts/fuzz.sh [SECONDS] [TARGET ...]      (default 600 s each; targets: callback rules config)
#
# Each target is built with `swiftc -sanitize=fuzzer,address` from the sources it exercises (the
# package's modules compiled together, so no SwiftPM change is needed; the config target builds
# Yams, its C parser and swift-mustache from the resolved checkouts as modules of their own), seeded from
# scripts/fuzz/corpus/TARGET, and run for SECONDS. New inputs go to .build-fuzz/corpus-TARGET; a crash,
# leak, timeout or memory blow-up stops the run, leaves the input in .build-fuzz and fails.
set -euo pipefail
SECONDS_EACH=${1:-600}
shift || true
TARGETS=("${@:-callback}")
[ $# -eq 0 ] && TARGETS=(callback rules config)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/.build-fuzz"
mkdir -p "$OUT"

sources() {
  case $1 in
    callback) echo "$ROOT"/Sources/CohortCore/*/*.swift "$ROOT"/Sources/CohortCore/*/*/*.swift \
      "$ROOT"/Sources/WeComKit/Callback/CallbackXML.swift "$ROOT"/Sources/WeComKit/Callback/CallbackXMLScanner.swift \
      "$ROOT"/Sources/WeComKit/Callback/CallbackPlaintext.swift "$ROOT"/Sources/WeComKit/UTF8Text.swift "$ROOT"/scripts/fuzz/FuzzCallback.swift ;;
    rules) echo "$ROOT"/Sources/CohortCore/*/*.swift "$ROOT"/Sources/CohortCore/*/*/*.swift "$ROOT"/scripts/fuzz/FuzzRules.swift ;;
    *) echo "unknown target $1" >&2; exit 2 ;;
  esac
}

# The config loader needs Yams (Swift over libyaml in C) and swift-mustache: each is compiled as
# its own instrumented module, then Cohort's Core, Templates and Config modules on top of them.
build_config() {
  local deps="$ROOT/.build/checkouts" mods="$OUT/mod-config" flags=(-sanitize=fuzzer,address -parse-as-library -O)
  [ -d "$deps/Yams" ] && [ -d "$deps/swift-mustache" ] || (cd "$ROOT" && swift package resolve >/dev/null)
  mkdir -p "$mods"
  rm -f "$mods"/Cohort*
  # The packages' modules only change with Package.resolved: built once per checkout.
  [ -f "$mods/Mustache.o" ] || for c in "$deps"/Yams/Sources/CYaml/src/*.c; do
    clang -c -O1 -fsanitize=fuzzer-no-link,address -DYAML_DECLARE_STATIC -I "$deps/Yams/Sources/CYaml/include" "$c" -o "$mods/cyaml-$(basename "$c" .c).o"
  done
  module() { # NAME SOURCES...
    local name=$1; shift
    swiftc "${flags[@]}" -wmo -module-name "$name" -emit-module -emit-module-path "$mods/$name.swiftmodule" \
      -I "$mods" -I "$deps/Yams/Sources/CYaml/include" -Xcc -DYAML_DECLARE_STATIC -D SWIFT_PACKAGE \
      -c "$@" -o "$mods/$name.o" 2>&1 | grep -v "warning:" || true
    [ -f "$mods/$name.o" ] || { echo "fuzz: building module $name failed" >&2; exit 1; }
  }
  [ -f "$mods/Yams.o" ] || module Yams "$deps"/Yams/Sources/Yams/*.swift
  [ -f "$mods/Mustache.o" ] || module Mustache "$deps"/swift-mustache/Sources/Mustache/*.swift
  module CohortCore $(find "$ROOT/Sources/CohortCore" -name '*.swift')
  module CohortTemplates "$ROOT"/Sources/CohortTemplates/*.swift
  module CohortConfig "$ROOT"/Sources/CohortConfig/*.swift
  swiftc "${flags[@]}" -module-name Fuzzconfig -I "$mods" -I "$deps/Yams/Sources/CYaml/include" -Xcc -DYAML_DECLARE_STATIC "$ROOT/scripts/fuzz/FuzzConfig.swift" "$mods"/*.o \
    -o "$OUT/fuzz-config" 2>&1 | grep -v "ld.gold: warning: Cannot export local symbol" || true
}

for target in "${TARGETS[@]}"; do
  if [ "$target" = config ]; then
    echo "fuzz: building config"
    build_config
  else
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
  fi
  mkdir -p "$OUT/corpus-$target"
  echo "fuzz: running $target for $SECONDS_EACH s"
  # Foundation's FileManager.contents(atPath:) leaks its 4 KiB read buffer on an empty file (seen
  # with an empty cohort.yaml), which LeakSanitizer reports as the input's leak. The config target
  # runs without leak detection; -rss_limit_mb and -malloc_limit_mb still stop unbounded memory.
  leaks=1
  [ "$target" = config ] && leaks=0
  (cd "$OUT" && FUZZ_PROJECT_ROOT="$ROOT" "$OUT/fuzz-$target" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -malloc_limit_mb=1024 -detect_leaks=$leaks \
    -print_final_stats=1 "$OUT/corpus-$target" "$ROOT/scripts/fuzz/corpus/$target" > "$OUT/$target.log" 2>&1) || {
    tail -40 "$OUT/$target.log"; echo "fuzz: $target FAILED (input saved in $OUT)"; exit 1; }
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|Done [0-9]+ runs" "$OUT/$target.log" | tr '\n' ' '
  echo
  echo "fuzz: $target ok"
done
