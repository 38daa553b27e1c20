#!/usr/bin/env bash
# How long a failing WaitForIt takes, and how soon SIGTERM ends one, on a
# real Xvnc whose 1920x1080 root window shows the corpus screenshots tiled
# (a busy screen): WaitForIt,2s with 16x16, 64x64 and 200x100 templates
# that are not on screen, then SIGTERM 0.5 s after a 2 s wait's deadline.
#
#   tools/measure-wait.sh [path/to/rfbplay] [corpus dir] [plasma]
#
# With `plasma`, the root window shows an ImageMagick plasma fractal instead,
# a photo-like wallpaper on which few positions can be ruled out cheaply.
#
# Use a release build. Needs Xvnc, ImageMagick (convert, display), python3.
# Prints figures; asserts nothing (a benchmark, not a test).
set -euo pipefail
BIN=$(realpath "${1:-target/release/rfbplay}")
CORPUS=$(realpath "${2:-../shared/corpus}")
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
now() { date +%s.%N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

for d in $(seq 700 799); do
  [[ -e /tmp/.X$d-lock || -e /tmp/.X11-unix/X$d ]] && continue
  DISP=$d; PORT=$(free_port); break
done
Xvnc ":$DISP" -geometry 1920x1080 -depth 24 -SecurityTypes None -rfbport "$PORT" \
  -localhost -nolisten tcp >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [[ -e /tmp/.X11-unix/X$DISP ]] && break; sleep 0.1; done
sleep 0.5
cd "$TMP"
convert "$CORPUS/enc_xvnc_zrle.truth.png" "$CORPUS/enc_qemu_modes_zrle.truth.png" +append row.png
convert row.png row.png -append -crop 1920x1080+0+0 +repage bg.png
if [[ ${3:-} == plasma ]]; then convert -seed 7 -size 1920x1080 plasma:fractal bg.png; fi
DISPLAY=":$DISP" display -window root bg.png || true   # exits 1 even when it worked
for s in 16x16 64x64 200x100; do
  convert -size "$s" gradient:red-blue "t$s.png"
  echo "0:WaitForIt,2s,t$s.png" > "w$s.kb"
  t0=$(now)
  timeout 300 "$BIN" play "127.0.0.1::$PORT" "w$s.kb" 2> err.txt || true
  t1=$(now)
  printf 'WaitForIt,2s %-8s failed after %.2f s: %s\n' "$s" "$(echo "$t1 - $t0" | bc)" "$(tail -1 err.txt)"
done
"$BIN" play "127.0.0.1::$PORT" w200x100.kb 2> err.txt &
P=$!
sleep 2.5
t0=$(now)
if kill -TERM "$P" 2>/dev/null; then
  wait "$P" || true
  t1=$(now)
  printf 'SIGTERM 0.5 s after a 2 s WaitForIt deadline (200x100): exited %.2f s later\n' "$(echo "$t1 - $t0" | bc)"
else
  wait "$P" || true
  echo 'SIGTERM 0.5 s after a 2 s WaitForIt deadline (200x100): it had already ended'
fi
