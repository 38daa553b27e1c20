#!/bin/sh
# Decode speed: updates decoded per second by a release `rfbplay info`
# (container, stream parser and decoders; no export), per recording.
# Usage: tools/bench_decode.sh [RUNS] FILE...   (default RUNS 20)
# Example: tools/bench_decode.sh 20 /work/shared/corpus/enc_*tight*.fb
# The best of RUNS is reported, so other load on the machine counts less.
set -eu
runs=20
case "${1:-}" in
    ''|*[!0-9]*) ;;
    *) runs=$1; shift ;;
esac
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/rfbplay"
printf '%-36s %8s %10s %12s\n' file updates "best ms" "updates/s"
for f in "$@"; do
    updates=$("$bin" info "$f" 2>/dev/null | awk '/^updates:/ {print $2}')
    best=""
    i=0
    while [ "$i" -lt "$runs" ]; do
        start=$(date +%s%N)
        "$bin" info "$f" >/dev/null 2>&1
        end=$(date +%s%N)
        t=$(( (end - start) / 1000 ))
        if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
        i=$((i + 1))
    done
    awk -v f="$(basename "$f")" -v u="$updates" -v us="$best" \
        'BEGIN { printf "%-36s %8d %10.1f %12.0f\n", f, u, us / 1000, u / (us / 1e6) }'
done
