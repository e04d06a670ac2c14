#!/usr/bin/env bash
# Runs every test: the C++ suite (Catch2 via CTest) and the Python suite (pytest).
set -euo pipefail
source "$(dirname "$0")/env.sh"
glyph_apt_install
glyph_venv
cd "$GLYPH_ROOT"
jobs="$(nproc 2>/dev/null || echo 2)"
# The Python package builds below compile with Python's own CC and CXX (scikit-build-core takes
# them from sysconfig where unset: gcc and g++ on Debian); the C++ trees use the same names, since
# ccache (scripts/env.sh) counts c++ and g++ as two compilers and would compile everything twice.
if [ -z "${CC:-}" ] && [ -z "${CXX:-}" ]; then
  read -r CC CXX < <("$GLYPH_VENV/bin/python" -c 'import sysconfig as s
print(*((s.get_config_var(v) or d).split()[0] for v, d in (("CC", "cc"), ("CXX", "c++"))))')
  export CC CXX
fi

# With torch installed the C++ build has the VLM too (glyph_vlm), so the installed package has the
# vlm component that the examples and the header check below use; with nvcc and a CUDA torch, its
# CUDA kernels too (GLYPH_WITH_CUDA=AUTO, as the Python package builds them), so a kernel that does
# not compile fails here first, and the later trees' objects (the VLM alone, the Python package)
# are the same compiles, which ccache hands them: the kernels compile once for these trees (the
# GPU run's rehearsal builds them again, against the device's torch).
torch=OFF
"$GLYPH_VENV/bin/python" -c "import torch" 2>/dev/null && torch=ON

echo "[glyph] C++: configure, build, test (GLYPH_WITH_TORCH=$torch)"
cmake -S . -B build/cpp -DCMAKE_BUILD_TYPE=Release -DGLYPH_BUILD_TESTS=ON -DGLYPH_BUILD_EXAMPLES=ON \
  -DGLYPH_WITH_TORCH="$torch" -DGLYPH_WITH_CUDA=AUTO -DPython_EXECUTABLE="$GLYPH_VENV/bin/python" \
  >/dev/null
cmake --build build/cpp -j "$jobs"
ctest --test-dir build/cpp --output-on-failure -j "$jobs"

echo "[glyph] C++: install the CMake package, move it, build examples/cpp and the header check against it"
bash scripts/check_cpp_package.sh build/cpp "$torch"

if "$GLYPH_VENV/bin/python" -c "import torch" 2>/dev/null; then
  echo "[glyph] C++: the VLM alone (GLYPH_WITH_RENDER=OFF; FreeType, HarfBuzz, libdeflate, PCRE2, pkg-config hidden)"
  cmake -S . -B build/vlm-alone -DCMAKE_BUILD_TYPE=Release -DGLYPH_WITH_RENDER=OFF -DGLYPH_WITH_CUDA=AUTO \
    -DCMAKE_DISABLE_FIND_PACKAGE_Freetype=ON -DCMAKE_DISABLE_FIND_PACKAGE_harfbuzz=ON \
    -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON -DCMAKE_DISABLE_FIND_PACKAGE_LibDeflate=ON \
    -DCMAKE_DISABLE_FIND_PACKAGE_PCRE2=ON -DPython_EXECUTABLE="$GLYPH_VENV/bin/python" >/dev/null
  cmake --build build/vlm-alone -j "$jobs" --target vlm_random
  ./build/vlm-alone/cpp/vlm_random
fi

echo "[glyph] wheel: build the self-contained wheel, smoke-test it in a fresh virtual environment"
bash scripts/check_wheel.sh

echo "[glyph] Python: build the package, run pytest"
glyph_install_python
"$GLYPH_VENV/bin/python" -m pytest -q tests/python "$@"
