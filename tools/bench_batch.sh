#!/usr/bin/env bash
# Benchmarks exporting a folder of 20 recordings: one `rfbplay export DIR
# OUT --jobs N` against a shell loop of single-file exports of the same
# files, run side by side (alternating) so both see the same machine load.
# Prints the medians and their ratio (folder / loop: below 1 is faster).
#
# The 20 recordings (made once in BENCH_DIR): 10 incremental Raw+CopyRect
# recordings looped from the corpus to 22 or 33 s (examples/loop_recording.rs),
# and 10 copies of the corpus's ZRLE, Tight and Hextile recordings (zlib
# streams cannot be looped), all 1024x768.
#
#   tools/bench_batch.sh                 # --jobs 2, 3 runs each
#   JOBS=4 RUNS=5 BENCH_DIR=/tmp/b tools/bench_batch.sh
#
# Not a test: timings depend on the machine and on what else runs on it.
set -euo pipefail
cd "$(dirname "$0")/.."

corpus=${RFBPLAY_CORPUS:-../shared/corpus}
target=${CARGO_TARGET_DIR:-target}
dir=${BENCH_DIR:-/tmp/rfbplay-bench-batch}
runs=${RUNS:-3}
jobs=${JOBS:-2}
cargo build --release --quiet --bin rfbplay --bin rfbplay-video --example loop_recording
bin="$target/release/rfbplay"
loop="$target/release/examples/loop_recording"

recs=$dir/recordings
mkdir -p "$recs"
for i in $(seq 0 9); do
  f=$recs/incremental_$i.fb
  [ -s "$f" ] || "$loop" "$corpus/enc_xvnc_copyrect_raw.fb" "$f" $((15 + 2 * i)) 6 >/dev/null 2>&1
done
zlib=(enc_xvnc_zrle enc_xvnc_tight enc_xvnc_hextile enc_xvnc_tight_jpeg enc_xvnc_zlib_fallback)
for i in $(seq 0 9); do
  f=$recs/zlib_$i.fb
  [ -s "$f" ] || cp "$corpus/${zlib[$((i % 5))]}.fb" "$f"
done

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
seq_t=() dir_t=()
for _ in $(seq "$runs"); do
  rm -rf "$dir/seq" "$dir/dir"
  mkdir -p "$dir/seq"
  s=$(now)
  for f in "$recs"/*.fb; do
    "$bin" export "$f" "$dir/seq/$(basename "$f" .fb).mp4" -q
  done
  e=$(now)
  seq_t+=("$(awk -v s="$s" -v e="$e" 'BEGIN {print e - s}')")
  s=$(now)
  "$bin" export "$recs" "$dir/dir" --jobs "$jobs" 2>/dev/null
  e=$(now)
  dir_t+=("$(awk -v s="$s" -v e="$e" 'BEGIN {print e - s}')")
done
n_out=$(ls "$dir/dir" | wc -l)
[ "$n_out" -eq 20 ] || { echo "bench_batch: the folder export made $n_out videos, not 20" >&2; exit 1; }
sq=$(printf '%s\n' "${seq_t[@]}" | median)
dr=$(printf '%s\n' "${dir_t[@]}" | median)
total=$("$bin" info "$recs" 2>/dev/null | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+s$/) {sub(/s$/, "", $i); t += $i; break}} END {print t}')
printf 'recordings:        20 (%s s of recording)\n' "$total"
printf 'one at a time:     %6.2f s median of %d  (runs: %s)\n' "$sq" "$runs" "${seq_t[*]}"
printf 'folder, --jobs %d:  %6.2f s median of %d  (runs: %s)\n' "$jobs" "$dr" "$runs" "${dir_t[*]}"
printf 'ratio:             folder / one at a time = %.2f\n' "$(awk -v a="$dr" -v b="$sq" 'BEGIN {print a / b}')"
echo "cores: $(nproc); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
