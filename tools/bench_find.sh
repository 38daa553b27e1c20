#!/usr/bin/env bash
# Benchmarks `rfbplay find` against `rfbplay info` (which decodes every
# update and nothing more) on long recordings made by looping corpus files
# (examples/loop_recording.rs), and prints the median of RUNS runs: find's
# wall time, the recording's duration as a multiple of it (x real time),
# and info's time over find's (above 1: find is faster than decoding alone);
# then the same from CPU time (user + system), which a busy machine
# disturbs less than wall time.
#
#   tools/bench_find.sh
#   BENCH_DIR=/tmp/b RUNS=5 SECONDS_INCR=3600 SECONDS_RAW=300 tools/bench_find.sh
#
# The needle is an openQA needle whose match area is cut from the
# recording's screen at 2 s, so it is found (once per loop): once exact
# (`"match": 100`) and once at the default threshold (no match level), as
# a user would give a PNG cut from a screenshot. A third needle, 120x40
# of noise, is nowhere ("absent"): the search for matches finds none and
# no place comes near it. Keep BENCH_DIR
# on a roomy disk (or /dev/shm): the hour-long loop takes about 200 MB.
# Not a test: timings depend on the machine's load.
set -euo pipefail
cd "$(dirname "$0")/.."

corpus=${RFBPLAY_CORPUS:-../shared/corpus}
target=${CARGO_TARGET_DIR:-target}
dir=${BENCH_DIR:-/tmp/rfbplay-bench-find}
runs=${RUNS:-3}
mkdir -p "$dir"

[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing: run tools/setup.sh" >&2; exit 1; }
cargo build --release --quiet --bin rfbplay --example loop_recording
bin="$target/release/rfbplay"
loop="$target/release/examples/loop_recording"

# name  source  seconds  needle area x,y,w,h
# Looping keeps Raw/CopyRect streams sound; ZRLE and Tight carry zlib
# state across updates and break at the seam, so the incremental case is
# TigerVNC's Raw+CopyRect recording.
cases=(
  "incremental enc_xvnc_copyrect_raw ${SECONDS_INCR:-3600} 20,20,120,40"
  "raw_minimega mm_xvnc_xterm ${SECONDS_RAW:-300} 20,20,120,40"
)

# 120x40 of noise, the same every run.
python3 - "$dir/noise.png" <<'PY'
import random, struct, sys, zlib
rng = random.Random(1)
w, h = 120, 40
raw = b"".join(b"\0" + bytes(rng.randrange(256) for _ in range(w * 3)) for _ in range(h))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
calc() { awk "BEGIN { print $* }"; }
# Prints "wall cpu" seconds of one run.
wall() {
  /usr/bin/time -f '%e %U %S' -o "$dir/time.txt" "$@" > /dev/null 2>&1 || true
  # The last line: a needle not found exits 1, which time notes first.
  tail -n 1 "$dir/time.txt" | awk '{ printf "%s %.2f\n", $1, $2 + $3 }'
}
col() { awk -v c="$1" '{ print $c }'; }

printf '%-13s %-7s %9s %8s %9s %8s %9s | %8s %9s %8s %9s\n' recording needle duration \
  find_s x_real info_s info/find find_cpu x_real info_cpu info/find
for c in "${cases[@]}"; do
  set -- $c
  name=$1 src=$corpus/$2.fb secs=$3 area=$4
  fb=$dir/$name.fb
  [ -s "$fb" ] || "$loop" "$src" "$fb" "$secs" 6 > /dev/null
  duration=$("$bin" info "$fb" 2>/dev/null | awk '/^duration:/ {sub(/s$/, "", $2); print $2}')
  "$bin" frame "$src" "$dir/$name.png" --at 2 > /dev/null 2>&1
  IFS=, read -r x y w h <<< "$area"
  printf '{"area":[{"xpos":%d,"ypos":%d,"width":%d,"height":%d,"type":"match"}],"match":100}\n' \
    "$x" "$y" "$w" "$h" > "$dir/${name}_exact.json"
  printf '{"area":[{"xpos":%d,"ypos":%d,"width":%d,"height":%d,"type":"match"}]}\n' \
    "$x" "$y" "$w" "$h" > "$dir/${name}_default.json"
  cp "$dir/$name.png" "$dir/${name}_exact.png"
  cp "$dir/$name.png" "$dir/${name}_default.png"
  # info, the exact needle and the default one take turns, run after
  # run, so a change in the machine's load falls on all three alike.
  info=() exact=() default=() absent=()
  for _ in $(seq "$runs"); do
    info+=("$(wall "$bin" info "$fb")")
    exact+=("$(wall "$bin" find "$fb" "$dir/${name}_exact.json")")
    default+=("$(wall "$bin" find "$fb" "$dir/${name}_default.json")")
    absent+=("$(wall "$bin" find "$fb" "$dir/noise.png")")
  done
  i=$(printf '%s\n' "${info[@]}" | col 1 | median)
  ic=$(printf '%s\n' "${info[@]}" | col 2 | median)
  for needle in exact default absent; do
    case $needle in
      exact) fs=("${exact[@]}") ;;
      default) fs=("${default[@]}") ;;
      absent) fs=("${absent[@]}") ;;
    esac
    f=$(printf '%s\n' "${fs[@]}" | col 1 | median)
    fc=$(printf '%s\n' "${fs[@]}" | col 2 | median)
    printf '%-13s %-7s %8.1fs %7.2fs %8.0fx %7.2fs %9.2f | %7.2fs %8.0fx %7.2fs %9.2f\n' \
      "$name" "$needle" "$duration" "$f" "$(calc "$duration / $f")" "$i" "$(calc "$i / $f")" \
      "$fc" "$(calc "$duration / $fc")" "$ic" "$(calc "$ic / $fc")"
  done
  "$bin" find "$fb" "$dir/${name}_default.json" 2>&1 | head -3 | sed 's/^/  /'
done
echo "x_real: recording seconds per find second; info/find: info's time over find's (wall left, CPU right)."
echo "Load average: $(cut -d' ' -f1-3 /proc/loadavg)"
