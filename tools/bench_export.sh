#!/usr/bin/env bash
# Benchmarks `rfbplay export` on minute-long 1024x768 recordings made by
# looping corpus files (examples/loop_recording.rs) or recorded from a real
# Xvnc (tools/record_session.sh), and prints, as the
# median of 3 runs: export wall time, the recording's duration as a multiple
# of that time (x real time), the ratio to `gzip -dc FILE > /dev/null` on the
# same file, video frames per second, and peak RSS.
#
#   tools/bench_export.sh            # all four recordings
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
cargo build --release --quiet --bin rfbplay --bin rfbplay-video --example loop_recording
bin="$target/release/rfbplay"
loop="$target/release/examples/loop_recording"

# name  source  (raw: minimega's full frames; incremental: Raw+CopyRect;
# zrle_typing and zrle_busy: ZRLE sessions recorded from a real Xvnc by
# tools/record_session.sh, skipped when Xvnc is missing)
cases=(
  "raw_minimega mm_xvnc_xterm"
  "incremental enc_xvnc_copyrect_raw"
  "zrle_typing session:typing"
  "zrle_busy session:busy"
)

calc() { awk "BEGIN { print $* }"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-13s %8s %8s %7s %7s %7s %8s %7s %8s %7s\n' \
  recording duration export_s x_real gzip_s vs_gzip cpu_s cpu_vs frames/s peak_MB
for c in "${cases[@]}"; do
  set -- $c
  name=$1 src=$corpus/$2.fb
  fb=$dir/$name.fb
  if [ ! -s "$fb" ]; then
    case $2 in
      session:*)
        if ! command -v Xvnc >/dev/null; then echo "$name: skipped, no Xvnc"; continue; fi
        tools/record_session.sh "$fb" "$seconds" "${2#session:}" "$bin"
        ;;
      *) "$loop" "$src" "$fb" "$seconds" 6 ;;
    esac
  fi
  duration=$("$bin" info "$fb" 2>/dev/null | awk '/^duration:/ {sub(/s$/, "", $2); print $2}')
  gz=() gzcpu=() ex=() excpu=() rss=() frames=""
  for _ in $(seq "$runs"); do
    /usr/bin/time -f '%e %U %S' -o "$dir/time.txt" sh -c 'gzip -dc "$1" > /dev/null' sh "$fb"
    read -r wall user sys < "$dir/time.txt"
    gz+=("$wall") gzcpu+=("$(calc "$user + $sys")")
    /usr/bin/time -f '%e %U %S %M' -o "$dir/time.txt" \
      "$bin" export "$fb" "$dir/$name.mp4" 2> "$dir/export.log" || true
    read -r wall user sys kb < "$dir/time.txt"
    ex+=("$wall") excpu+=("$(calc "$user + $sys")") rss+=("$kb")
    frames=$(sed -n 's/.*rfbplay: wrote .*, \([0-9]*\) frames, .*/\1/p' "$dir/export.log")
  done
  g=$(printf '%s\n' "${gz[@]}" | median)
  gc=$(printf '%s\n' "${gzcpu[@]}" | median)
  x=$(printf '%s\n' "${ex[@]}" | median)
  xc=$(printf '%s\n' "${excpu[@]}" | median)
  r=$(printf '%s\n' "${rss[@]}" | median)
  printf '%-13s %7.1fs %7.2fs %6.0fx %6.2fs %6.2fx %7.2fs %6.2fx %8.0f %7.0f\n' \
    "$name" "$duration" "$x" "$(calc "$duration / $x")" "$g" "$(calc "$g / $x")" \
    "$xc" "$(calc "$gc / $xc")" "$(calc "${frames:-0} / $x")" "$(calc "$r / 1024")"
  grep 'rfbplay: wrote' "$dir/export.log" | sed 's/^/  last run: /'
done
echo "x_real: recording seconds per export second (wall); vs_gzip: gzip -dc wall time / export"
echo "wall time; cpu_s: export user+sys seconds; cpu_vs: gzip -dc cpu / export cpu."
echo "frames/s: video frames (10 fps) per export second. Load average: $(cut -d' ' -f1-3 /proc/loadavg)"
