#!/usr/bin/env bash
# Screenshot comparison speed against the usual tools, side by side, on the
# same pairs of PNGs, at the same threshold (0.1) with anti-aliased pixels
# left out where the tool can: `rfbplay compare`, odiff (npm odiff-bin),
# BlazeDiff (the blazediff crate's CLI), pixelmatch (its npm CLI, pngjs
# decoding) and ImageMagick `compare -metric AE -fuzz 10%`. Every time is
# a whole command, PNG decoding included, with no diff image written (and
# with one, in the "+diff" rows). Prints medians of RUNS, wall-clock and
# CPU time, and the ratio of each tool's wall-clock median to rfbplay's
# (above 1: rfbplay is faster). The machine may be shared: CPU time is the
# steadier figure then.
#
# Pairs (made once with ImageMagick under target/bench-compare): a real
# 1024x768 screen from ../shared/corpus with a small change (a 40x20 box)
# and a large one (a 640x480 area from another screen), and the same
# screen tiled to 3840x2160 and 7680x4320 with several changed boxes.
#
# Tools that are missing are skipped with a note; tools/setup.sh installs
# them (npm packages into tools/node_modules, BlazeDiff into
# target/bench-tools).
# Usage: tools/bench_compare.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
corpus=${RFBPLAY_CORPUS:-../shared/corpus}
base=$corpus/enc_xvnc_hextile.truth.png
other=$corpus/mm_xvnc_xterm.truth.png
for f in "$base" "$other"; do
  [ -f "$f" ] || { echo "bench_compare: $f is missing (the corpus)" >&2; exit 2; }
done
command -v convert >/dev/null || { echo "bench_compare: ImageMagick is missing (tools/setup.sh)" >&2; exit 2; }

cargo build --release --quiet
rfbplay=target/release/rfbplay
odiff=tools/node_modules/.bin/odiff
pixelmatch=tools/node_modules/.bin/pixelmatch
blazediff=$(command -v blazediff || echo target/bench-tools/bin/blazediff)

dir=target/bench-compare
mkdir -p "$dir"
make_pairs() {
  local boxes="rectangle 100,100 139,119"
  [ -f "$dir/1024-small-a.png" ] || cp "$base" "$dir/1024-small-a.png"
  [ -f "$dir/1024-small-b.png" ] || convert "$base" -fill '#c03020' -draw "$boxes" "$dir/1024-small-b.png"
  [ -f "$dir/1024-large-a.png" ] || cp "$base" "$dir/1024-large-a.png"
  [ -f "$dir/1024-large-b.png" ] ||
    convert "$base" \( "$other" -crop 640x480+0+0 +repage \) -geometry +200+150 -composite "$dir/1024-large-b.png"
  local size
  for size in 3840x2160 7680x4320; do
    local w=${size%x*} h=${size#*x}
    [ -f "$dir/$size-a.png" ] ||
      convert -size "$size" tile:"$base" -define png:compression-level=6 "$dir/$size-a.png"
    [ -f "$dir/$size-b.png" ] ||
      convert "$dir/$size-a.png" -fill '#c03020' \
        -draw "rectangle 100,100 499,399" \
        -draw "rectangle $((w / 2)),$((h / 2)) $((w / 2 + 39)),$((h / 2 + 19))" \
        -draw "rectangle $((w - 300)),$((h - 200)) $((w - 101)),$((h - 101))" \
        "$dir/$size-b.png"
  done
}
make_pairs

# timed CMD...: "WALL CPU", the medians over $runs runs in ms of wall-clock
# time and of user+system CPU time (all threads). The exit status (1 or 22
# for "different") is not an error here.
timed() {
  python3 - "$runs" "$@" <<'PY'
import resource, statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
wall, cpu = [], []
for _ in range(runs):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall.append((time.perf_counter() - t) * 1e3)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1e3)
print(round(statistics.median(wall)), round(statistics.median(cpu)))
PY
}

have() { [ -x "$1" ] || command -v "$1" >/dev/null 2>&1; }
tools=(rfbplay odiff blazediff pixelmatch magick)
for t in odiff blazediff pixelmatch; do
  have "${!t}" || echo "note: $t not installed (tools/setup.sh), skipped" >&2
done

# cmd TOOL A B [DIFF]: the command line of one comparison at threshold 0.1,
# anti-aliasing ignored.
cmd() {
  local tool=$1 a=$2 b=$3 d=${4:-}
  case $tool in
    rfbplay) echo "$rfbplay" compare "$a" "$b" --threshold 0.1 ${d:+--diff "$d"} ;;
    odiff) echo "$odiff" "$a" "$b" ${d:+"$d"} --threshold 0.1 --antialiasing ;;
    blazediff) echo "$blazediff" "$a" "$b" ${d:+"$d"} --threshold 0.1 --antialiasing ;;
    pixelmatch) echo "$pixelmatch" "$a" "$b" "${d:-''}" 0.1 ;;
    magick) echo compare -metric AE -fuzz 10% "$a" "$b" "${d:-null:}" ;;
  esac
}

echo "median of $runs runs, ms: wall-clock (CPU time, all threads); x = tool / rfbplay, wall-clock"
printf '%-16s' "pair"
for t in "${tools[@]}"; do printf '%22s' "$t"; done
printf '\n'
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for pair in 1024-small 1024-large 3840x2160 7680x4320; do
  a=$dir/$pair-a.png b=$dir/$pair-b.png
  for mode in "" +diff; do
    printf '%-16s' "$pair$mode"
    base=""
    for t in "${tools[@]}"; do
      if [ "$t" != magick ] && [ "$t" != rfbplay ] && ! have "${!t}"; then
        printf '%22s' "-"; continue
      fi
      d=""
      [ -n "$mode" ] && d=$out/$t-diff.png
      # shellcheck disable=SC2046 # the command line is split on purpose
      read -r wall cpu < <(eval timed $(cmd "$t" "$a" "$b" "$d"))
      [ -n "$base" ] || base=$wall
      printf '%22s' "$wall ($cpu) x$(echo "scale=2; $wall / $base" | bc -l | sed 's/^\./0./')"
    done
    printf '\n'
  done
done
