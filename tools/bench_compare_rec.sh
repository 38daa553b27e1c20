#!/usr/bin/env bash
# Speed of `rfbplay compare A.fb B.fb` (recording against recording, stable
# screens lined up) on the corpus's recordings: each one against itself,
# the whole command, both files decoded (in parallel). Prints the median
# wall-clock and CPU time of RUNS, the recording's duration and its stable
# screens. Decoding dominates: compare `rfbplay info` on the same file.
# Usage: tools/bench_compare_rec.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
corpus=${RFBPLAY_CORPUS:-../shared/corpus}
cargo build --release --quiet
bin=target/release/rfbplay
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-28s %9s %8s %9s %8s\n' recording duration screens wall_s cpu_s
for name in mm_xvnc_xterm mm_qemu_ipxe enc_xvnc_tight_jpeg enc_xvnc_kb_cursor_zrle; do
  f=$corpus/$name.fb
  [ -f "$f" ] || { echo "bench_compare_rec: $f is missing (the corpus)" >&2; continue; }
  walls=() cpus=()
  for _ in $(seq "$runs"); do
    /usr/bin/time -o "$tmp" -f '%e %U %S' "$bin" --quiet compare "$f" "$f" >/dev/null 2>&1 || true
    t=$(tail -1 "$tmp")
    walls+=("$(echo "$t" | awk '{print $1}')")
    cpus+=("$(echo "$t" | awk '{print $2 + $3}')")
  done
  dur=$("$bin" info "$f" 2>/dev/null | awk '/^duration/ {print $2}')
  screens=$("$bin" --quiet compare "$f" "$f" --json 2>/dev/null | awk -F': ' '/"expected_screens"/ {sub(",", "", $2); print $2}')
  printf '%-28s %9s %8s %9s %8s\n' "$name" "$dur" "$screens" \
    "$(printf '%s\n' "${walls[@]}" | median)" "$(printf '%s\n' "${cpus[@]}" | median)"
done
