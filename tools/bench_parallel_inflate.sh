#!/usr/bin/env bash
# Parallel inflate against rfbplay's zlib-ng inflate, on this machine's
# cores: builds tools/bench_parallel_inflate/main.rs as a throwaway crate
# (in /tmp, into this worktree's target/ directory) with flate2 (zlib-ng), zlib-rs,
# rapidgzip-core and gzippy, and times each on a long looped minimega
# recording (examples/loop_recording.rs) and on a real, cut minimega file.
# Prints the best wall time of RUNS runs and the CPU seconds of that run.
#
#   tools/bench_parallel_inflate.sh [FILE.fb ...]
#   RUNS=5 BENCH_DIR=/tmp/b tools/bench_parallel_inflate.sh
#
# Not a test: timings depend on the machine and what else runs on it.
# Figures and the decision drawn from them: docs/parallel-inflate.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
corpus=${RFBPLAY_CORPUS:-../shared/corpus}
dir=${BENCH_DIR:-/tmp/rfbplay-pinflate}
runs=${RUNS:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
mkdir -p "$dir/crate/src"
cp tools/bench_parallel_inflate/main.rs "$dir/crate/src/main.rs"
cat > "$dir/crate/Cargo.toml" <<'TOML'
[package]
name = "bench_parallel_inflate"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
flate2 = { version = "1.1", default-features = false, features = ["zlib-ng"] }
zlib-rs = { version = "0.6", default-features = false, features = ["std"] }
rapidgzip-core = "0.3"
gzippy = "1"

[profile.release]
lto = "thin"
codegen-units = 4
TOML
(cd "$dir/crate" && cargo build --release --quiet)
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  looped=$dir/raw_minimega.fb
  if [ ! -s "$looped" ]; then
    cargo build --release --quiet --example loop_recording
    "$CARGO_TARGET_DIR/release/examples/loop_recording" "$corpus/mm_xvnc_xterm.fb" "$looped" 60 6
  fi
  files=("$looped" "$corpus/mm_xvnc_xterm.fb")
fi
echo "cores: $(nproc)"
for f in "${files[@]}"; do
  "$CARGO_TARGET_DIR/release/bench_parallel_inflate" "$f" "$runs"
done
