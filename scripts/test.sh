#!/usr/bin/env bash
# Runs every test: the C++ suite (Catch2 via CTest) and the Python suite (pytest).
set -euo pipefail
source "$(dirname "$0")/env.sh"
glyph_apt_install
glyph_venv
cd "$GLYPH_ROOT"
jobs="$(nproc 2>/dev/null || echo 2)"

echo "[glyph] C++: configure, build, test"
cmake -S . -B build/cpp -DCMAKE_BUILD_TYPE=Release -DGLYPH_BUILD_TESTS=ON -DGLYPH_BUILD_EXAMPLES=ON \
  -DPython_EXECUTABLE="$GLYPH_VENV/bin/python" >/dev/null
cmake --build build/cpp -j "$jobs"
ctest --test-dir build/cpp --output-on-failure -j "$jobs"

echo "[glyph] C++: install the CMake package and build examples/cpp against it"
rm -rf build/install build/example
cmake --install build/cpp --prefix build/install >/dev/null
cmake -S examples/cpp -B build/example -DCMAKE_PREFIX_PATH="$GLYPH_ROOT/build/install" >/dev/null
cmake --build build/example -j "$jobs" >/dev/null
./build/example/render_example "$GLYPH_ROOT/python/glyph/data/sample.txt" build/example/out

if "$GLYPH_VENV/bin/python" -c "import torch" 2>/dev/null; then
  echo "[glyph] C++: the VLM alone (GLYPH_WITH_RENDER=OFF; FreeType, HarfBuzz, pkg-config hidden)"
  cmake -S . -B build/vlm-alone -DCMAKE_BUILD_TYPE=Release -DGLYPH_WITH_RENDER=OFF \
    -DCMAKE_DISABLE_FIND_PACKAGE_Freetype=ON -DCMAKE_DISABLE_FIND_PACKAGE_harfbuzz=ON \
    -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON -DPython_EXECUTABLE="$GLYPH_VENV/bin/python" >/dev/null
  cmake --build build/vlm-alone -j "$jobs" --target vlm_random
  ./build/vlm-alone/cpp/vlm_random
fi

echo "[glyph] Python: build the package, run pytest"
glyph_install_python
"$GLYPH_VENV/bin/python" -m pytest -q tests/python "$@"
