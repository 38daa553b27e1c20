#!/usr/bin/env bash
# Records a scripted 1024x768 desktop session from a real Xvnc with
# `rfbplay record` (default encodings: ZRLE from TigerVNC), for benchmarks
# that need an incremental zlib-based recording: such streams cannot be
# looped from a corpus file (their zlib state runs across the seam).
# Two kinds of session:
#   busy:   an xterm typing commands and scrolling 40 lines of output every
#           few seconds, and a clock redrawn ten times a second: every
#           frame changes;
#   typing: a person at a shell: a command typed at about 8 keys/s, its
#           few lines of output, then a pause of 3 s.
#
#   tools/record_session.sh OUT.fb [SECONDS] [busy|typing] [path/to/rfbplay]
#
# Needs Xvnc, xterm and xdotool (tools/setup.sh installs them). Stops the
# servers and programs it started, by PID.
set -euo pipefail
out=${1:?usage: tools/record_session.sh OUT.fb [SECONDS] [busy|typing] [rfbplay]}
seconds=${2:-60}
kind=${3:-busy}
bin=$(realpath "${4:-target/release/rfbplay}")
case $kind in busy|typing) ;; *) echo "record_session: unknown session $kind" >&2; exit 2 ;; esac
for t in Xvnc xterm xdotool; do
  command -v "$t" >/dev/null || { echo "record_session: $t missing: run tools/setup.sh" >&2; exit 1; }
done
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
disp=""
for d in $(seq 640 700); do
  [[ -e /tmp/.X$d-lock || -e /tmp/.X11-unix/X$d ]] && continue
  port=$(free_port)
  Xvnc ":$d" -geometry 1024x768 -depth 24 -SecurityTypes None -rfbport "$port" \
    -localhost -nolisten tcp -AlwaysShared >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [[ -e /tmp/.X11-unix/X$d ]] && break; sleep 0.05; done
  [[ -e /tmp/.X11-unix/X$d ]] && { disp=$d; break; }
done
[[ -n $disp ]] || { echo "record_session: cannot start Xvnc" >&2; exit 1; }
export DISPLAY=:$disp
xterm -geometry 100x40+0+0 >/dev/null 2>&1 & pids+=($!)
if [[ $kind == busy ]]; then
  xterm -geometry 30x3+700+0 -e sh -c 'while :; do date +%T.%N; sleep 0.1; done' \
    >/dev/null 2>&1 & pids+=($!)
fi
sleep 1
xdotool mousemove 200 200
"$bin" record "127.0.0.1::$port" "$out" --force --duration "${seconds}s" -q &
rec=$!
pids+=($rec)
end=$(( $(date +%s) + seconds ))
while (( $(date +%s) < end )) && kill -0 "$rec" 2>/dev/null; do
  if [[ $kind == busy ]]; then
    xdotool type --delay 20 "echo the quick brown fox jumps over the lazy dog 0123456789"
    xdotool key Return
    xdotool type --delay 10 "ls -la /usr/bin | head -40"
    xdotool key Return
    sleep 0.5
  else
    xdotool type --delay 120 "ls -l /etc | head -5"
    xdotool key Return
    sleep 3
  fi
done
wait "$rec"
