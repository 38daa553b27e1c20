#!/usr/bin/env bash
# Benchmarks the seek index on long 1024x768 recordings made by looping
# corpus files (examples/loop_recording.rs): a minimega-style Raw one and an
# incremental Raw+CopyRect one (looping is unsound for ZRLE and the other
# zlib encodings, whose streams carry state across the seam). Prints, side
# by side: index build time against a plain `rfbplay info` (target at most
# 1.25x), index size against recording size (targets: 5% raw, 100%
# incremental), `frame --at` in a new process at 20 random times with the
# index on disk (targets: median < 100 ms, max < 250 ms), and the peak RSS
# of those seeks (target < 150 MB).
#
#   tools/bench_index.sh                      # one hour each
#   SECONDS_LONG=600 BENCH_DIR=/tmp/b tools/bench_index.sh
#   RUNS=5 tools/bench_index.sh               # medians of 5 builds and infos
#
# Not a test: timings depend on the machine and on what else runs on it.
set -euo pipefail
cd "$(dirname "$0")/.."

corpus=${RFBPLAY_CORPUS:-../shared/corpus}
target=${CARGO_TARGET_DIR:-target}
dir=${BENCH_DIR:-/tmp/rfbplay-bench-index}
seconds=${SECONDS_LONG:-3600}
seeks=${SEEKS:-20}
runs=${RUNS:-1}
mkdir -p "$dir"
export RFBPLAY_CACHE="$dir/cache"

[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time missing: run tools/setup.sh" >&2; exit 1; }
cargo build --release --quiet --bin rfbplay --example loop_recording
bin="$target/release/rfbplay"
loop="$target/release/examples/loop_recording"

cases=(
  "raw_minimega mm_xvnc_xterm"
  "incremental enc_xvnc_copyrect_raw"
)

calc() { awk "BEGIN { print $* }"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
maxof() { sort -g | tail -1; }

printf '%-13s %9s %9s %8s %8s %6s %9s %9s %8s %8s %8s %7s\n' \
  recording duration rec_MB info_s index_s ratio index_MB size_pct seek_med seek_max seek_cpu seek_MB
for c in "${cases[@]}"; do
  set -- $c
  name=$1 src=$corpus/$2.fb
  fb=$dir/${name}_${seconds}s.fb
  if [ ! -s "$fb" ]; then
    "$loop" "$src" "$fb" "$seconds" 6 >/dev/null
  fi
  # info and the build alternate, RUNS times each; their medians compare.
  infos=() builds=()
  for _ in $(seq "$runs"); do
    rm -rf "$RFBPLAY_CACHE"
    /usr/bin/time -f '%e' -o "$dir/time.txt" "$bin" info "$fb" > "$dir/info.txt" 2>/dev/null || true
    infos+=("$(cat "$dir/time.txt")")
    /usr/bin/time -f '%e' -o "$dir/time.txt" "$bin" index "$fb" 2> "$dir/index.log" || true
    builds+=("$(cat "$dir/time.txt")")
  done
  info_s=$(printf '%s\n' "${infos[@]}" | median)
  index_s=$(printf '%s\n' "${builds[@]}" | median)
  duration=$(awk '/^duration:/ {sub(/s$/, "", $2); print $2}' "$dir/info.txt")
  idx_bytes=$(cat "$RFBPLAY_CACHE"/*.idx | wc -c)
  rec_bytes=$(stat -c %s "$fb")
  walls=() cpus=() rss=()
  for k in $(seq "$seeks"); do
    t=$(awk -v d="$duration" -v k="$k" 'BEGIN { srand(k * 7919); printf "%.3f", rand() * d }')
    /usr/bin/time -f '%e %U %S %M' -o "$dir/time.txt" "$bin" -q frame "$fb" "$dir/seek.png" --at "$t"
    read -r wall user sys kb < "$dir/time.txt"
    walls+=("$wall") cpus+=("$(calc "$user + $sys")") rss+=("$kb")
  done
  printf '%-13s %8.1fs %9.0f %7.2fs %7.2fs %5.2fx %9.1f %8.2f%% %6.0fms %6.0fms %6.0fms %7.0f\n' \
    "$name" "$duration" "$(calc "$rec_bytes / 1048576")" "$info_s" "$index_s" \
    "$(calc "$index_s / $info_s")" "$(calc "$idx_bytes / 1048576")" \
    "$(calc "$idx_bytes * 100 / $rec_bytes")" \
    "$(calc "$(printf '%s\n' "${walls[@]}" | median) * 1000")" \
    "$(calc "$(printf '%s\n' "${walls[@]}" | maxof) * 1000")" \
    "$(calc "$(printf '%s\n' "${cpus[@]}" | median) * 1000")" \
    "$(calc "$(printf '%s\n' "${rss[@]}" | maxof) / 1024")"
  grep 'rfbplay: wrote' "$dir/index.log" | sed 's/^/  /'
done
echo "ratio: index build / info wall time (medians of $runs, alternated); seek_*: frame --at wall time in a new process"
echo "(index on disk), $seeks random times; seek_cpu: median user+sys CPU time of"
echo "those (what the wall time would be on an idle machine); seek_MB: their highest peak RSS."
echo "Load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
