#!/usr/bin/env bash
# Screenshot comparison speed against the usual tools, side by side, on the
# same pairs of PNGs, at the same threshold (0.1) with anti-aliased pixels
# left out where the tool can: `rfbplay compare`, odiff (npm odiff-bin),
# BlazeDiff (the blazediff crate's CLI), pixelmatch (its npm CLI, pngjs
# decoding) and ImageMagick `compare -metric AE -fuzz 10%`. Every time is
# a whole command, PNG decoding included, with no diff image written (and
# with one, in the "+diff" rows). Prints medians of RUNS and the ratio of
# each tool's median to rfbplay's (above 1: rfbplay is faster).
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

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# Milliseconds of one run; the exit status (1 or 22 for "different") is not an error here.
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N); echo $(((e - s) / 1000000)); }
timed() { local t=(); for _ in $(seq "$runs"); do t+=("$(ms "$@")"); done; printf '%s\n' "${t[@]}" | median; }

have() { [ -x "$1" ] || command -v "$1" >/dev/null 2>&1; }
tools=(rfbplay odiff blazediff pixelmatch magick)
for t in odiff blazediff pixelmatch; do
  have "${!t}" || echo "note: $t not installed (tools/setup.sh), skipped" >&2
done

# run TOOL A B [DIFF]: one comparison at threshold 0.1, anti-aliasing ignored.
run() {
  local tool=$1 a=$2 b=$3 d=${4:-}
  case $tool in
    rfbplay) "$rfbplay" compare "$a" "$b" --threshold 0.1 ${d:+--diff "$d"} ;;
    odiff) "$odiff" "$a" "$b" ${d:+"$d"} --threshold 0.1 --antialiasing ;;
    blazediff) "$blazediff" "$a" "$b" ${d:+"$d"} --threshold 0.1 --antialiasing ;;
    pixelmatch) "$pixelmatch" "$a" "$b" "$d" 0.1 ;;
    magick) compare -metric AE -fuzz 10% "$a" "$b" "${d:-null:}" ;;
  esac
}

printf '%-18s' "pair"
for t in "${tools[@]}"; do printf '%12s' "$t"; done
printf '   (median ms of %s; ratio = tool / rfbplay)\n' "$runs"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for pair in 1024-small 1024-large 3840x2160 7680x4320; do
  a=$dir/$pair-a.png b=$dir/$pair-b.png
  for mode in "" +diff; do
    printf '%-18s' "$pair$mode"
    declare -A med=()
    for t in "${tools[@]}"; do
      if [ "$t" != magick ] && [ "$t" != rfbplay ] && ! have "${!t}"; then
        printf '%12s' "-"; continue
      fi
      d=""
      [ -n "$mode" ] && d=$out/$t-diff.png
      med[$t]=$(timed run "$t" "$a" "$b" "$d")
      printf '%12s' "${med[$t]}"
    done
    printf '\n%-18s' "  ratio"
    for t in "${tools[@]}"; do
      if [ -n "${med[$t]:-}" ] && [ "${med[rfbplay]}" -gt 0 ]; then
        printf '%12s' "$(echo "scale=2; ${med[$t]} / ${med[rfbplay]}" | bc -l)"
      else
        printf '%12s' "-"
      fi
    done
    printf '\n'
    unset med
  done
done
