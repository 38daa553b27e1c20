#!/usr/bin/env bash
# The whole rfbplay test suite, as CI runs it (.ci/run calls this): installs
# missing system packages, then checks formatting and lints, then runs every
# test. Tests that need ../shared/corpus or a real VNC server are mandatory
# when CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked --no-fail-fast
