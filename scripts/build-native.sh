#!/usr/bin/env bash
# Builds the board's native helpers (src/board/native/*.c: C hooks Unicorn calls without entering JavaScript, see
# docs/board.md "Native helpers") into .cache/native/. Safe to run again: it rebuilds only when a source is newer.
# Without a C compiler it says so in one line and exits 0: the board then runs without them (slower, still exact).
set -euo pipefail
cd "$(dirname "$0")/.."

out_dir=.cache/native
case "$(uname)" in
  Darwin) library=libtlsf-sim-native.dylib; shape=(-dynamiclib); link=(-undefined dynamic_lookup) ;;
  *) library=libtlsf-sim-native.so; shape=(-shared -fPIC); link=(-ldl) ;;
esac
target="$out_dir/$library"
sources=(src/board/native/*.c)

if [ -f "$target" ] && [ -z "$(find src/board/native -type f -newer "$target" 2>/dev/null)" ]; then
  exit 0
fi

compiler=${CC:-}
if [ -z "$compiler" ]; then
  for candidate in cc gcc clang; do
    if command -v "$candidate" >/dev/null 2>&1; then compiler=$candidate; break; fi
  done
fi
if [ -z "$compiler" ]; then
  echo "tlsf-sim setup: no C compiler for the native helpers; runs use Unicorn's slower instruction count (install one: sudo apt-get install -y gcc)" >&2
  exit 0
fi

mkdir -p "$out_dir"
if "$compiler" -O2 -std=c11 -Wall -Wextra -fvisibility=hidden "${shape[@]}" -o "$target.tmp" "${sources[@]}" "${link[@]}"; then
  mv "$target.tmp" "$target"
  echo "tlsf-sim setup: built the native helpers ($target)" >&2
else
  rm -f "$target.tmp"
  echo "tlsf-sim setup: the native helpers did not compile with $compiler; runs use Unicorn's slower instruction count" >&2
fi
