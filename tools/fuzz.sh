#!/usr/bin/env bash
# Runs fuzz targets for a while each (nightly + cargo-fuzz), starting from
# fuzz/seeds, and copies any crashing input to fuzz/regressions/TARGET/,
# where tests/fuzz_regressions.rs replays it in every `cargo test`.
# Usage: tools/fuzz.sh SECONDS TARGET...   (all targets when none given)
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}; shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(ls fuzz/fuzz_targets | sed 's/\.rs$//')
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t" "fuzz/artifacts/$t"
  echo "== $t for ${secs}s"
  cargo +nightly fuzz run "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 | tail -12
  for a in fuzz/artifacts/"$t"/*; do
    [ -f "$a" ] || continue
    mkdir -p "fuzz/regressions/$t"
    cp "$a" "fuzz/regressions/$t/"
    echo "CRASH kept: fuzz/regressions/$t/$(basename "$a")"
  done
done
