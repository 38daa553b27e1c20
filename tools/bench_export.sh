#!/usr/bin/env bash
# Benchmarks `rfbplay export` on minute-long 1024x768 recordings made by
# looping corpus files (examples/loop_recording.rs), and prints, as the
# median of 3 runs: export wall time, the recording's duration as a multiple
# of that time (x real time), the ratio to `gzip -dc FILE > /dev/null` on the
# same file, video frames per second, and peak RSS.
#
#   tools/bench_export.sh            # both recordings
#   BENCH_DIR=/tmp/b RUNS=5 tools/bench_export.sh
#
# Not a test: timings depend on the machine and on what else runs on it.
set -euo pipefail
cd "$(dirname "$0")/.."

corpus=${RFBPLAY_CORPUS:-../shared/corpus}
target=${CARGO_TARGET_DIR:-target}
dir=${BENCH_DIR:-/tmp/rfbplay-bench}
runs=${RUNS:-3}
seconds=${SECONDS_LONG:-60}
mkdir -p "$dir"

[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing: run tools/setup.sh" >&2; exit 1; }
cargo build --release --quiet --bin rfbplay --example loop_recording
bin="$target/release/rfbplay"
loop="$target/release/examples/loop_recording"

# name  source  (raw: minimega's full frames; incremental: Raw+CopyRect)
cases=(
  "raw_minimega mm_xvnc_xterm"
  "incremental enc_xvnc_copyrect_raw"
)

calc() { awk "BEGIN { print $* }"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-13s %9s %9s %8s %9s %9s %10s %8s %9s\n' \
  recording duration export_s x_real gzip_s vs_gzip frames/s encoded peak_MB
for c in "${cases[@]}"; do
  set -- $c
  name=$1 src=$corpus/$2.fb
  fb=$dir/$name.fb
  if [ ! -s "$fb" ]; then
    "$loop" "$src" "$fb" "$seconds" 6
  fi
  duration=$("$bin" info "$fb" 2>/dev/null | awk '/^duration:/ {sub(/s$/, "", $2); print $2}')
  gz=() ex=() rss=() frames="" encoded=""
  for _ in $(seq "$runs"); do
    s=$(date +%s.%N); gzip -dc "$fb" > /dev/null; e=$(date +%s.%N)
    gz+=("$(calc "$e - $s")")
    s=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$dir/time.txt" "$bin" export "$fb" "$dir/$name.mp4" 2> "$dir/export.log" || true
    e=$(date +%s.%N)
    ex+=("$(calc "$e - $s")")
    rss+=("$(cat "$dir/time.txt")")
    line=$(grep 'rfbplay: wrote' "$dir/export.log" || true)
    frames=$(echo "$line" | sed -n 's/.*, \([0-9]*\) frames, .*/\1/p')
    encoded=$(echo "$line" | sed -n 's/.*, \([0-9]*\) encoded.*/\1/p')
  done
  g=$(printf '%s\n' "${gz[@]}" | median)
  x=$(printf '%s\n' "${ex[@]}" | median)
  r=$(printf '%s\n' "${rss[@]}" | median)
  printf '%-13s %8.1fs %8.2fs %7.0fx %8.2fs %8.2fx %10.0f %8s %9.0f\n' \
    "$name" "$duration" "$x" "$(calc "$duration / $x")" "$g" \
    "$(calc "$g / $x")" "$(calc "${frames:-0} / $x")" "${encoded:-?}" \
    "$(calc "$r / 1024")"
done
echo "x_real: recording seconds per export second; vs_gzip: gzip -dc time / export time;"
echo "frames/s: video frames (at 10 fps) per export second; encoded: frames actually encoded."
