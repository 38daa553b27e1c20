#!/usr/bin/env bash
# Measures `rfbplay record` on one scripted Xvnc session, recorded both ways
# at once (default encodings and --compat minimega): file sizes, recorder CPU
# at idle and while the screen changes, and file time against wall time.
#
#   tools/measure-record.sh [path/to/rfbplay] [idle_s] [active_s] [drift_s]
#
# Use a release build (cargo build --release). Needs Xvnc, xterm, xdotool.
# Prints figures; asserts nothing (a benchmark, not a test).
set -euo pipefail
BIN=${1:-target/release/rfbplay}
IDLE=${2:-20}
ACTIVE=${3:-20}
DRIFT=${4:-60}
BIN=$(realpath "$BIN")
TMP=$(mktemp -d)
HZ=$(getconf CLK_TCK)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
now() { date +%s.%N; }

start_xvnc() {  # sets DISP PORT, appends to PIDS
  for d in $(seq 600 700); do
    [[ -e /tmp/.X$d-lock || -e /tmp/.X11-unix/X$d ]] && continue
    DISP=$d; PORT=$(free_port)
    Xvnc ":$DISP" -geometry 1024x768 -depth 24 -SecurityTypes None -rfbport "$PORT" \
      -localhost -nolisten tcp -AlwaysShared >/dev/null 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do [[ -e /tmp/.X11-unix/X$DISP ]] && return 0; sleep 0.05; done
  done
  echo "cannot start Xvnc" >&2; exit 1
}

# Starts a recorder in the background; its stderr lines get wall-clock
# stamps in $TMP/NAME.log. Sets REC_PID.
record() {  # name out args...
  local name=$1 out=$2; shift 2
  "$BIN" record "127.0.0.1::$PORT" "$out" "$@" \
    2> >(while IFS= read -r l; do echo "$(now) $l"; done >"$TMP/$name.log") &
  REC_PID=$!
  PIDS+=("$REC_PID")
}

echo "== session: ${IDLE}s idle, then ${ACTIVE}s of typing and scrolling in an xterm"
start_xvnc
DISPLAY=:$DISP xterm -geometry 120x45+0+0 >/dev/null 2>&1 & PIDS+=($!)
sleep 1; DISPLAY=:$DISP xdotool mousemove 200 200
record default "$TMP/default.fb"; PD=$REC_PID
record minimega "$TMP/minimega.fb" --compat minimega; PM=$REC_PID
sleep 3
t0=$(now); d0=$(ticks "$PD"); m0=$(ticks "$PM")
sleep "$IDLE"
t1=$(now); d1=$(ticks "$PD"); m1=$(ticks "$PM")
end=$(( $(date +%s) + ACTIVE ))
while (( $(date +%s) < end )); do
  DISPLAY=:$DISP xdotool type --delay 15 "echo the quick brown fox jumps over the lazy dog 0123456789"
  DISPLAY=:$DISP xdotool key Return
  DISPLAY=:$DISP xdotool type --delay 5 "ls -la /usr/bin | head -30"
  DISPLAY=:$DISP xdotool key Return
  sleep 0.3
done
t2=$(now); d2=$(ticks "$PD"); m2=$(ticks "$PM")
kill -INT "$PD" "$PM"; wait "$PD" "$PM" || true
cpu() { awk -v a="$1" -v b="$2" -v t0="$3" -v t1="$4" -v hz="$HZ" 'BEGIN{printf "%.1f%%", 100*(b-a)/hz/(t1-t0)}'; }
for m in default minimega; do
  f="$TMP/$m.fb"
  if [[ $m == default ]]; then a=$d0 b=$d1 c=$d2; else a=$m0 b=$m1 c=$m2; fi
  printf '%-9s file %10d bytes   CPU idle %s   CPU active %s   updates %s\n' "$m" \
    "$(stat -c %s "$f")" "$(cpu "$a" "$b" "$t0" "$t1")" "$(cpu "$b" "$c" "$t1" "$t2")" \
    "$("$BIN" info "$f" 2>/dev/null | awk '/^updates:/{print $2}')"
done

echo "== drift: ${DRIFT}s with a clock redrawn 10 times a second, --duration ${DRIFT}s"
DISPLAY=:$DISP xterm -geometry 30x3+700+0 -e sh -c 'while :; do date +%T.%N; sleep 0.1; done' \
  >/dev/null 2>&1 & PIDS+=($!)
sleep 1
record ddefault "$TMP/ddefault.fb" --duration "${DRIFT}s"; PD=$REC_PID
record dminimega "$TMP/dminimega.fb" --compat minimega --duration "${DRIFT}s"; PM=$REC_PID
wait "$PD" "$PM" || true
sleep 0.5
for m in ddefault dminimega; do
  # Wall time from the "recording ... to" note (file time 0, within a few
  # ms) to the "complete" line (the deadline, within a few ms); file time
  # of the last chunk from the summary line. The last chunk arrives up to
  # one redraw (0.1 s) before the deadline.
  awk -v name="${m#d}" '/ recording .* to /{s=$1} / complete: /{e=$1; for(i=1;i<=NF;i++) if($i=="of" && $(i+1)=="recording,") f=$(i-1)} END{sub("s","",f); printf "%-9s wall %.3f s  file time of last chunk %.3f s  difference %.3f s\n", name, e-s, f, e-s-f}' "$TMP/$m.log"
done
