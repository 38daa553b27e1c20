#!/usr/bin/env bash
# Seek latency of `rfbplay serve` on a long recording, with the seek index
# the server builds in the background (tools/seek_serve.js prints the
# figures): a full read for the timeline, a seek without an index, how long
# the background build takes, then random seeks from its checkpoints.
#
#   tools/seek_serve.sh                        # a 1-hour recording, 30 seeks
#   tools/seek_serve.sh REC.fb 50              # a recording of your own
#   SECONDS_LONG=600 BENCH_DIR=/tmp/s tools/seek_serve.sh
#
# The default recording loops the corpus's enc_xvnc_copyrect_raw.fb
# (incremental Raw + CopyRect, 1024x768) with examples/loop_recording.rs.
# The server runs with a cache of its own in BENCH_DIR (removed first), so
# the first seek never finds an index. Not a test: timings depend on the
# machine and on what else runs on it.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${RFBPLAY_CORPUS:-../shared/corpus}
target=${CARGO_TARGET_DIR:-target}
dir=${BENCH_DIR:-/tmp/rfbplay-seek-serve}
seconds=${SECONDS_LONG:-3600}
seeks=${2:-30}
cargo build --release --quiet --bin rfbplay --example loop_recording
bin="$target/release/rfbplay"
mkdir -p "$dir/served"
if [ -n "${1:-}" ]; then
  rec="$dir/served/$(basename "$1")"
  [ -e "$rec" ] || cp "$1" "$rec"
else
  rec="$dir/served/incremental_${seconds}s.fb"
  [ -s "$rec" ] || "$target/release/examples/loop_recording" \
    "$corpus/enc_xvnc_copyrect_raw.fb" "$rec" "$seconds" 6 >/dev/null
fi
cache="$dir/cache"
rm -rf "$cache"
log="$(mktemp)"
RFBPLAY_CACHE="$cache" "$bin" serve "$dir/served" --listen 127.0.0.1:0 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 50); do
  grep -q "http://" "$log" && break
  sleep 0.1
done
url="$(grep -o 'http://[0-9.:]*' "$log" | head -1)"
[ -n "$url" ] || { cat "$log" >&2; exit 1; }
node tools/seek_serve.js "$url" "$(basename "$rec")" "$seeks" "$cache"
echo "Load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
