#!/usr/bin/env bash
# Installs the Debian 12 packages rfbplay needs to build and to run its whole
# test suite, and the Rust toolchain pieces it uses. Idempotent: packages that
# are already present are not touched, so a second run costs a few seconds.
set -euo pipefail

packages=(
  # building: ffmpeg-next links the system FFmpeg 5.1 through bindgen
  build-essential pkg-config libclang-dev
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
  # flate2's zlib-ng backend (libz-ng-sys) builds zlib-ng from source
  cmake
  # tests: reading exports back, real VNC servers and screen drivers
  ffmpeg
  tigervnc-standalone-server tigervnc-tools
  xterm xdotool x11-utils x11-apps x11-xserver-utils xfonts-base
  # tools/gen_keysyms.py reads X11's keysymdef.h (kb key names)
  x11proto-dev
  imagemagick
  qemu-system-x86
  # benchmarks and helpers
  gzip procps python3 bc time
  # rfbplay serve's browser tests (tests/serve_browser.rs): headless Chromium
  chromium
  # compare --report's junit.xml is validated against a JUnit schema
  # (tests/compare_report.rs)
  libxml2-utils
)
# Node drives Chromium in those tests; a Node that is already installed
# (with its own npm) is kept, since Debian's npm would conflict with it.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "rfbplay setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "rfbplay setup: cargo not found; install Rust (rustup) first" >&2
  exit 1
fi

# The Node packages of tools/package.json (pinned by tools/package-lock.json:
# puppeteer-core for the browser tests, odiff-bin, pixelmatch and pngjs for
# the compare benchmark) into tools/node_modules, which git ignores; only
# when missing or older than the lock file.
tools="$(cd "$(dirname "$0")" && pwd)"
if [ ! -d "$tools/node_modules/puppeteer-core" ] \
  || [ "$tools/package-lock.json" -nt "$tools/node_modules/.package-lock.json" ]; then
  echo "rfbplay setup: installing the Node packages into tools/node_modules" >&2
  (cd "$tools" && npm install --no-audit --no-fund --loglevel=error)
fi

# ---- compare benchmark tools (tools/bench_compare.sh) -----------------------
# Only with `tools/setup.sh --bench`: the tools rfbplay compare is measured
# against. odiff (odiff-bin ships its binary) and pixelmatch (+ pngjs) go to
# tools/node_modules from tools/package-lock.json; BlazeDiff's CLI is built
# from crates.io into target/bench-tools (its bundled codecs need cmake,
# installed for the build above, and nasm). Each step is skipped when its result is already there.
if [ "${1:-}" = "--bench" ]; then
  cd "$(dirname "$0")/.."
  bench_packages=(nasm)
  command -v npm >/dev/null 2>&1 || bench_packages+=(nodejs npm)
  bench_missing=()
  for p in "${bench_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || bench_missing+=("$p")
  done
  if [ ${#bench_missing[@]} -gt 0 ]; then
    echo "rfbplay setup: installing ${bench_missing[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${bench_missing[@]}" >/dev/null
  fi
  if [ ! -x tools/node_modules/.bin/odiff ] || [ ! -x tools/node_modules/.bin/pixelmatch ]; then
    echo "rfbplay setup: npm ci in tools/ (odiff-bin, pixelmatch, pngjs)" >&2
    (cd tools && npm install --no-audit --no-fund --loglevel=error)
  fi
  if [ ! -x target/bench-tools/bin/blazediff ]; then
    echo "rfbplay setup: building BlazeDiff's CLI into target/bench-tools" >&2
    cargo install blazediff --version 6.0.2 --locked --root target/bench-tools --quiet
  fi
fi
