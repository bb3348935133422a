#!/usr/bin/env bash
# Installs what a fresh machine lacks (Unicorn 2, and the Arm cross compiler when asked),
# then builds the TypeScript. Safe to run again: each step checks before it acts.
#   TLSF_SIM_WANT_CROSS=1   also the Arm cross compiler and newlib (to rebuild firmware)
#   TLSF_SIM_WANT_BENCH=1   also qemu-system-arm (npm run bench compares with QEMU when it is there)
#   TLSF_SIM_FAST_ENGINE=0  do not fetch Unicorn 2.1 with pip (keep the distribution's library)
set -euo pipefail
cd "$(dirname "$0")/.."

want_cross=${TLSF_SIM_WANT_CROSS:-0}
# Chromium for the HTML report's browser tests (tests/html-report.browser.test.ts); they skip without it.
want_browser=${TLSF_SIM_WANT_BROWSER:-0}
want_bench=${TLSF_SIM_WANT_BENCH:-0}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n "$@"
  else return 1
  fi
}

# ---- engine: Unicorn 2.1 from the Python wheel (docs/board.md "Engines") -------------------------------
# Unicorn 2.1 runs guest stores several times faster than Debian's 2.0.1, but no distribution packages it; the
# Python wheel ships the library (unicorn/lib/libunicorn.so.2). It goes into .cache/unicorn-py (no root, no
# import of the Python module), where src/board/engine-locate.ts looks first and self-tests it before use.
fast_engine_dir=.cache/unicorn-py
have_fast_engine() {
  [ -f "$fast_engine_dir/unicorn/lib/libunicorn.so.2" ] || [ -f "$fast_engine_dir/unicorn/lib/libunicorn.2.dylib" ]
}
install_fast_engine() {
  [ "${TLSF_SIM_FAST_ENGINE:-1}" = 0 ] && return 0
  [ -n "${UNICORN_LIB:-}" ] && return 0
  have_fast_engine && return 0
  # A failed attempt is not repeated for a day: setup runs before every `npm test` and `npm run demo`.
  if [ -n "$(find .cache/unicorn-py.failed -mmin -1440 2>/dev/null)" ]; then return 0; fi
  local python
  python=$(command -v python3 || command -v python || true)
  if [ -z "$python" ] || ! "$python" -m pip --version >/dev/null 2>&1; then
    echo "tlsf-sim setup: no pip to fetch Unicorn 2.1; using the system's Unicorn 2 (slower guest stores)" >&2
    return 0
  fi
  # --target writes only under the project: PEP 668's guard for the system Python does not apply (older pips
  # ignore the variable).
  rm -f .cache/unicorn-py.failed
  if PIP_BREAK_SYSTEM_PACKAGES=1 "$python" -m pip install --quiet --disable-pip-version-check --no-deps --retries 0 --timeout 20 \
       --target "$fast_engine_dir" 'unicorn>=2.1,<3' >/dev/null 2>&1 && have_fast_engine; then
    rm -f "$fast_engine_dir"/unicorn/lib/libunicorn.a  # the static library: not needed, half the download
    echo "tlsf-sim setup: installed Unicorn 2.1 from pip into $fast_engine_dir" >&2
  else
    rm -rf "$fast_engine_dir"
    mkdir -p .cache && : > .cache/unicorn-py.failed
    echo "tlsf-sim setup: pip could not fetch Unicorn 2.1 (no index or no wheel for this machine); using the system's Unicorn 2 (slower guest stores)" >&2
  fi
}
install_fast_engine

have_unicorn() {
  have_fast_engine && return 0
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

if [ "$want_bench" = 1 ]; then
  command -v qemu-system-arm >/dev/null 2>&1 || missing+=(qemu-system-arm)
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
# The native helpers (C hooks for exact instruction counting and heap calls): optional, see the script.
bash scripts/build-native.sh
# Which engine runs firmware (this also warms the verdict cache for the first run).
report_engine() {
  node --input-type=module -e "
import('./dist/src/board/engine-locate.js').then(({ selectedEngine }) => {
  const engine = selectedEngine();
  console.error('tlsf-sim setup: engine Unicorn ' + engine.version + ' (' + engine.path + ')');
}).catch((error) => { console.error('tlsf-sim setup: ' + error.message); process.exit(2); });"
}
if ! report_engine; then
  # Only the pip library was there and it failed its self-test: fall back to the distribution's.
  have_fast_engine || exit 2
  rm -rf "$fast_engine_dir"
  echo "tlsf-sim setup: the pip Unicorn failed its self-test; installing the system's libunicorn2 instead" >&2
  have_unicorn || apt_install libunicorn2 || { echo "tlsf-sim setup: run: sudo apt-get install -y libunicorn2" >&2; exit 2; }
  report_engine || exit 2
fi
