#!/usr/bin/env bash
# Decode speed per encoding on the real recordings: updates decoded per
# second (rfbplay info decodes every update and keeps no frames), median of
# N runs, for every recording in the corpus folder.
# Usage: tools/bench_encodings.sh [CORPUS_DIR] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-../shared/corpus}
runs=${2:-3}
cargo build --release --quiet
bin=target/release/rfbplay
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
printf '%-34s %-28s %8s %10s %12s\n' recording encodings updates "median s" "updates/s"
for f in "$dir"/*.fb; do
  json=$("$bin" info --json "$f" 2>/dev/null) || true
  updates=$(printf '%s' "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["updates"])' 2>/dev/null || echo 0)
  encs=$(printf '%s' "$json" | python3 -c 'import json,sys; r=json.load(sys.stdin)["stats"]["rects"]; print(",".join(k for k in r if k not in ("LastRect","Cursor","DesktopSize")))' 2>/dev/null || echo "?")
  times=()
  for _ in $(seq "$runs"); do
    s=$(date +%s.%N); "$bin" info "$f" >/dev/null 2>&1 || true; e=$(date +%s.%N)
    times+=("$(echo "$e - $s" | bc -l)")
  done
  t=$(printf '%s\n' "${times[@]}" | median)
  printf '%-34s %-28s %8d %10.3f %12.0f\n' "$(basename "$f" .fb)" "$encs" "$updates" "$t" "$(echo "$updates / $t" | bc -l)"
done
