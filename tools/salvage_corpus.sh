#!/usr/bin/env bash
# The corruption set for `--salvage`: flips 1 and 64 bytes at N places of
# each recording, in the decompressed stream (recompressed) and in the
# compressed file, runs `rfbplay info --salvage --json` on each copy, and
# prints the share of the updates after the damage that salvage recovered.
# Usage: tools/salvage_corpus.sh [PLACES] [FILE.fb...]
# (default: 4 places over testdata/*.fb and ../shared/corpus/*.fb)
set -euo pipefail
cd "$(dirname "$0")/.."
places=${1:-4}
shift || true
if [ $# -eq 0 ]; then
  set -- testdata/*.fb ../shared/corpus/*.fb
fi
cargo build --quiet --bin rfbplay --bin rfbplay-video --example corrupt_corpus
RFBPLAY=target/debug/rfbplay target/debug/examples/corrupt_corpus --places "$places" "$@"
