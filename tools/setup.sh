#!/usr/bin/env bash
# Installs the Debian 12 packages rfbplay needs to build and to run its whole
# test suite, and the Rust toolchain pieces it uses. Idempotent: packages that
# are already present are not touched, so a second run costs a few seconds.
set -euo pipefail

packages=(
  # building: ffmpeg-next links the system FFmpeg 5.1 through bindgen
  build-essential pkg-config libclang-dev
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
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

# puppeteer-core (pinned by tools/package-lock.json) into tools/node_modules,
# which git ignores; only when missing or older than the lock file.
tools="$(cd "$(dirname "$0")" && pwd)"
if [ ! -d "$tools/node_modules/puppeteer-core" ] \
  || [ "$tools/package-lock.json" -nt "$tools/node_modules/.package-lock.json" ]; then
  echo "rfbplay setup: installing puppeteer-core into tools/node_modules" >&2
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
fi
