#!/usr/bin/env bash
# Measures one `rfbplay record --control` process recording a lab: COUNT
# Xvnc servers (1024x768, -SecurityTypes None, display N on port 5900+N) on
# loopback at once, with xterms typing in a few of them. Reports the
# recorder's CPU (% of one core: in total and per screen while every screen
# is idle, then while some type) and its peak RSS, then kills it with -9
# and checks that every file decodes and that the typing screens' files
# reach to within 1 s of the kill.
#
#   tools/measure_lab.sh [path/to/rfbplay] [count] [seconds] [typing]
#
# Use a release build (cargo build --release). Needs Xvnc, xterm, xdotool.
# Every process it starts is stopped by PID at the end. Exits 1 when a file
# does not decode or lost more than 1 s.
set -euo pipefail
BIN=${1:-target/release/rfbplay}
COUNT=${2:-50}
SECONDS_RUN=${3:-60}
TYPING=${4:-3}
(( COUNT >= 1 && COUNT <= 100 )) || { echo "count must be 1..100" >&2; exit 2; }
(( TYPING <= COUNT )) || TYPING=$COUNT
BIN=$(realpath "$BIN")
TMP=$(mktemp -d)
HZ=$(getconf CLK_TCK)
PIDS=()
REC=
cleanup() {
  [[ -n $REC ]] && kill -9 "$REC" 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
now() { date +%s.%N; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Displays N with a free X socket and a free port 5900+N.
DISPS=()
for d in $(seq 300 899); do
  (( ${#DISPS[@]} >= COUNT )) && break
  [[ -e /tmp/.X$d-lock || -e /tmp/.X11-unix/X$d ]] && continue
  port_free $((5900 + d)) || continue
  DISPS+=("$d")
done
(( ${#DISPS[@]} == COUNT )) || { echo "only ${#DISPS[@]} free displays" >&2; exit 2; }

echo "== starting $COUNT Xvnc servers (displays ${DISPS[0]}..${DISPS[-1]})"
for d in "${DISPS[@]}"; do
  Xvnc ":$d" -geometry 1024x768 -depth 24 -SecurityTypes None -rfbport $((5900 + d)) \
    -localhost -nolisten tcp -AlwaysShared >/dev/null 2>&1 &
  PIDS+=($!)
done
for d in "${DISPS[@]}"; do
  for _ in $(seq 200); do [[ -e /tmp/.X11-unix/X$d ]] && break; sleep 0.05; done
  [[ -e /tmp/.X11-unix/X$d ]] || { echo "Xvnc :$d did not start" >&2; exit 2; }
done
for d in "${DISPS[@]:0:TYPING}"; do
  DISPLAY=:$d xterm -geometry 100x40+0+0 >/dev/null 2>&1 & PIDS+=($!)
done
sleep 2

SOCK=$TMP/rec.sock
JOBS=()
for d in "${DISPS[@]}"; do JOBS+=("vm$d=127.0.0.1::$((5900 + d))"); done
"$BIN" record --control "$SOCK" --dir "$TMP/recs" "${JOBS[@]}" 2>"$TMP/rec.log" &
REC=$!
for _ in $(seq 200); do [[ -S $SOCK ]] && break; sleep 0.05; done
recording() { "$BIN" ctl "$SOCK" list --json | grep -o '"state":"recording"' | wc -l; }
for _ in $(seq 300); do (( $(recording) == COUNT )) && break; sleep 0.1; done
echo "recording: $(recording) of $COUNT"
sleep 3

IDLE=$(( SECONDS_RUN / 2 )); ACTIVE=$(( SECONDS_RUN - IDLE ))
cpu() { awk -v a="$1" -v b="$2" -v t0="$3" -v t1="$4" -v hz="$HZ" -v n="$5" \
  'BEGIN{c=100*(b-a)/hz/(t1-t0); printf "%.2f%% of a core (%.3f%% per screen)", c, c/n}'; }
echo "== ${IDLE}s with every screen idle"
t0=$(now); c0=$(ticks "$REC")
sleep "$IDLE"
t1=$(now); c1=$(ticks "$REC")
echo "idle CPU:   $(cpu "$c0" "$c1" "$t0" "$t1" "$COUNT")"

echo "== ${ACTIVE}s with typing in $TYPING screens"
TYPERS=()
for d in "${DISPS[@]:0:TYPING}"; do
  ( while :; do
      DISPLAY=:$d xdotool type --delay 40 "echo the quick brown fox jumps over the lazy dog" 2>/dev/null
      DISPLAY=:$d xdotool key Return 2>/dev/null
    done ) &
  TYPERS+=($!); PIDS+=($!)
done
sleep "$ACTIVE"
t2=$(now); c2=$(ticks "$REC")
echo "active CPU: $(cpu "$c1" "$c2" "$t1" "$t2" "$COUNT")"
echo "peak RSS:   $(awk '/VmHWM/{printf "%.1f MiB", $2/1024}' "/proc/$REC/status")"

# File time at the kill: each recording's elapsed time in list, plus the
# wall time from that list to the kill. list's elapsed time is refreshed
# every 0.25 s, so a loss reads up to 0.25 s low (even below zero).
"$BIN" ctl "$SOCK" list --json >"$TMP/list.json"
tl=$(now)
kill -9 "$REC"; tk=$(now); wait "$REC" 2>/dev/null || true; REC=
for p in "${TYPERS[@]}"; do kill "$p" 2>/dev/null || true; done
echo "== kill -9; checking every file"
bad=0; worst=0
for d in "${DISPS[@]}"; do
  name=vm$d; f=$TMP/recs/$name.fb
  if ! out=$("$BIN" info "$f" 2>&1); then echo "$name: does not decode: $out"; bad=1; continue; fi
  dur=$(awk '/^duration:/{sub("s","",$2); print $2}' <<<"$out")
  elapsed=$(python3 -c "import json,sys; r=[r for r in json.load(open('$TMP/list.json'))['recordings'] if r['name']=='$name'][0]; print(r['elapsed_s'])")
  lost=$(awk -v e="$elapsed" -v tl="$tl" -v tk="$tk" -v d="$dur" 'BEGIN{printf "%.3f", e+(tk-tl)-d}')
  typing=no
  for t in "${DISPS[@]:0:TYPING}"; do [[ $t == "$d" ]] && typing=yes; done
  if [[ $typing == yes ]]; then
    echo "$name (typing): decodes; last update at ${dur}s, killed at file time ~$(awk -v e="$elapsed" -v tl="$tl" -v tk="$tk" 'BEGIN{printf "%.3f", e+tk-tl}')s: ${lost}s lost"
    awk -v l="$lost" 'BEGIN{exit !(l > 1.0)}' && bad=1
    worst=$(awk -v a="$worst" -v b="$lost" 'BEGIN{print (b>a)?b:a}')
  fi
done
(( bad )) || echo "all $COUNT files decode; idle screens have nothing to lose; worst loss on a typing screen: ${worst}s"
exit $bad
