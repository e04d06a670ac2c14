#!/usr/bin/env bash
# The installed C++ package (docs/install.md, "C++"): installs BUILD_DIR into a prefix, moves the
# prefix elsewhere (relocatable: no file may name the source tree, the build folder, the install
# prefix or this machine's torch), then against the moved copy builds examples/cpp (with the VLM
# examples when VLM=ON: find_package(glyph COMPONENTS ... vlm) finds Torch itself) and
# tests/package (every public header compiled alone), installs the examples into the prefix and
# runs them from there: render_example finds the shipped font from its own location.
#
#   bash scripts/check_cpp_package.sh [BUILD_DIR (build/cpp)] [VLM: ON|OFF (OFF)]
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$GLYPH_ROOT"
bdir="${1:-build/cpp}"
vlm="${2:-OFF}"
jobs="${GLYPH_JOBS:-$(nproc 2>/dev/null || echo 2)}"
first="$GLYPH_ROOT/build/pkg-install"
moved="$GLYPH_ROOT/build/pkg-moved/glyph"
rm -rf "$first" "$GLYPH_ROOT/build/pkg-moved" build/example build/package-check
cmake --install "$bdir" --prefix "$first" >/dev/null
mkdir -p "$(dirname "$moved")"
mv "$first" "$moved"

# No path of this machine in the installed files (text and binary).
needles=("$GLYPH_ROOT" "$first" "$(cd "$bdir" && pwd)" "/usr/lib/x86_64-linux-gnu" "/usr/include")
if [ "$vlm" = ON ]; then
  needles+=("$("$GLYPH_VENV/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')")
fi
for n in "${needles[@]}"; do
  if hits="$(grep -rlF -- "$n" "$moved")"; then
    echo "[glyph] the installed package names $n (not relocatable):" >&2
    echo "$hits" >&2
    exit 1
  fi
done
echo "[glyph] $(find "$moved" -type f | wc -l) installed files, none names this machine's paths"

py=(-DPython_EXECUTABLE="$GLYPH_VENV/bin/python")
cmake -S examples/cpp -B build/example -DCMAKE_PREFIX_PATH="$moved" -DCMAKE_INSTALL_PREFIX="$moved" \
  -DGLYPH_EXAMPLE_VLM="$vlm" "${py[@]}" >/dev/null
cmake --build build/example -j "$jobs" >/dev/null
cmake --install build/example >/dev/null
cmake -S tests/package -B build/package-check -DCMAKE_PREFIX_PATH="$moved" -DGLYPH_CHECK_VLM="$vlm" \
  "${py[@]}" | grep "headers alone"
cmake --build build/package-check -j "$jobs" >/dev/null
echo "[glyph] every public header compiles alone"

out="$(env -u GLYPH_FONT_DIR "$moved/bin/render_example" "$GLYPH_ROOT/python/glyph/data/sample.txt" build/example/out)"
echo "$out"
grep -qxF "font: $moved/share/glyph/fonts/DejaVuSans.ttf" <<<"$out" || {
  echo "[glyph] render_example did not find the shipped font in the moved prefix" >&2; exit 1; }
if [ "$vlm" = ON ]; then
  "$moved/bin/vlm_random_example"
  [ -x "$moved/bin/vlm_example" ]
fi
echo "[glyph] C++ package OK (relocated to $moved; VLM=$vlm)"
