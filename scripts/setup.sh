#!/usr/bin/env bash
# Installs what a fresh machine lacks (Unicorn 2, and the Arm cross compiler when asked),
# then builds the TypeScript. Safe to run again: each step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

want_cross=${TLSF_SIM_WANT_CROSS:-0}
# Chromium for the HTML report's browser tests (tests/html-report.browser.test.ts); they skip without it.
want_browser=${TLSF_SIM_WANT_BROWSER:-0}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n "$@"
  else return 1
  fi
}

have_unicorn() {
  [ -n "${UNICORN_LIB:-}" ] && [ -f "$UNICORN_LIB" ] && return 0
  ldconfig -p 2>/dev/null | grep -q 'libunicorn\.so\.2' && return 0
  for f in /usr/lib/x86_64-linux-gnu/libunicorn.so.2 /usr/lib/aarch64-linux-gnu/libunicorn.so.2 \
           /usr/local/lib/libunicorn.so.2 /opt/homebrew/lib/libunicorn.2.dylib /usr/local/lib/libunicorn.2.dylib; do
    [ -f "$f" ] && return 0
  done
  return 1
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 && return 0
  as_root apt-get update -q >/dev/null 2>&1 || return 1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1
}

missing=()
have_unicorn || missing+=(libunicorn2)
if [ "$want_cross" = 1 ]; then
  command -v arm-none-eabi-gcc >/dev/null 2>&1 || missing+=(gcc-arm-none-eabi)
  [ -d /usr/lib/arm-none-eabi/newlib ] || [ "$(uname)" != Linux ] || missing+=(libnewlib-arm-none-eabi)
  # C++ firmware (tlsf-sim build with .cpp sources) and `tlsf-sim build --libc picolibc`.
  [ -f /usr/lib/arm-none-eabi/newlib/thumb/v7e-m/nofp/libstdc++_nano.a ] || [ "$(uname)" != Linux ] || missing+=(libstdc++-arm-none-eabi-newlib)
  [ -d /usr/lib/picolibc/arm-none-eabi ] || [ "$(uname)" != Linux ] || missing+=(picolibc-arm-none-eabi)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "tlsf-sim setup: installing ${missing[*]}" >&2
  if ! apt_install "${missing[@]}"; then
    if [ "$(uname)" = Darwin ]; then
      echo "tlsf-sim setup: Unicorn 2 is missing; install it with: brew install unicorn" >&2
    else
      echo "tlsf-sim setup: could not install ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2
    fi
    exit 2
  fi
fi

# Not fatal: without a browser only the browser tests skip.
if [ "$want_browser" = 1 ] && [ "$(uname)" = Linux ] && ! command -v chromium >/dev/null 2>&1; then
  echo "tlsf-sim setup: installing chromium (for the HTML report's browser tests)" >&2
  apt_install chromium || echo "tlsf-sim setup: could not install chromium; the browser tests will skip (sudo apt-get install -y chromium)" >&2
fi

[ -d node_modules/koffi ] || npm install --no-audit --no-fund >&2
npm run build --silent
