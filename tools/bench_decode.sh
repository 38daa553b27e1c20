#!/usr/bin/env bash
# Decode speed against a reference on the same machine: decoding every
# update of a recording (rfbplay info: no frames kept, no PNGs) against
# `gzip -dc FILE > /dev/null` on the same file, and frames/s for a PNG
# sequence. Prints medians of N runs and ratios; the machine is shared, so
# ratios are what to compare.
# Usage: tools/bench_decode.sh [FILE.fb] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-../shared/corpus/mm_xvnc_xterm.fb}
runs=${2:-5}
cargo build --release --quiet
bin=target/release/rfbplay

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }

dec=(); gz=(); png=()
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for _ in $(seq "$runs"); do
  dec+=("$(seconds "$bin" info "$file")")
  gz+=("$(seconds sh -c "gzip -dc '$file' > /dev/null")")
done
for _ in $(seq 3); do
  rm -rf "$out/png"
  png+=("$(seconds "$bin" frames "$file" "$out/png" --fps 10)")
done
frames=$(ls "$out/png" | wc -l)
raw=$(gzip -dc "$file" 2>/dev/null | wc -c || true)
d=$(printf '%s\n' "${dec[@]}" | median)
g=$(printf '%s\n' "${gz[@]}" | median)
p=$(printf '%s\n' "${png[@]}" | median)
printf 'file:                 %s (%s bytes decompressed)\n' "$file" "$raw"
printf 'rfbplay decode:       %.3f s median of %d  (%.2f GB/s of stream)\n' "$d" "$runs" "$(echo "$raw / $d / 1000000000" | bc -l)"
printf 'gzip -dc > /dev/null: %.3f s median of %d\n' "$g" "$runs"
printf 'ratio:                rfbplay decode is %.2fx faster than gzip -dc\n' "$(echo "$g / $d" | bc -l)"
printf 'PNG sequence:         %d frames in %.3f s median of 3 = %.1f frames/s\n' "$frames" "$p" "$(echo "$frames / $p" | bc -l)"
