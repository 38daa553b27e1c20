#!/usr/bin/env bash
# Starts `rfbplay serve DIR` on a free loopback port, runs tools/load_serve.js
# against it (N viewers at real time for S seconds) and stops the server.
# usage: tools/load_serve.sh [DIR] [VIEWERS] [SECONDS]
#   DIR defaults to ../shared/corpus; RFBPLAY names the binary to use
#   (default target/release/rfbplay, built when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-../shared/corpus}"
viewers="${2:-20}"
seconds="${3:-20}"
bin="${RFBPLAY:-target/release/rfbplay}"
[ -x "$bin" ] || cargo build --release
log="$(mktemp)"
"$bin" serve "$dir" --listen 127.0.0.1:0 2>"$log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 50); do
  grep -q "http://" "$log" && break
  sleep 0.1
done
url="$(grep -o 'http://[0-9.:]*' "$log" | head -1)"
[ -n "$url" ] || { cat "$log" >&2; exit 1; }
node tools/load_serve.js "$url" "$viewers" "$seconds"
