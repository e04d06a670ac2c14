#!/usr/bin/env bash
# Builds the C++ test suite with AddressSanitizer + UndefinedBehaviorSanitizer (gcc by default;
# CC/CXX choose another compiler) and runs CTest: the Catch2 suite and the fuzz targets' replay of
# their seed corpora and committed crash inputs. Any sanitizer report fails the run.
#   scripts/sanitize.sh            # C++ suite
#   scripts/sanitize.sh --python   # also the Python suite against an ASan build of glyph._core
# Build trees: build/asan (C++), build/asan-py (the module; its package is staged in
# build/asan-py/pkg, used through PYTHONPATH with libasan preloaded into the venv's python).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$GLYPH_ROOT"
jobs="${GLYPH_JOBS:-$(nproc 2>/dev/null || echo 2)}"
python_too=0
[ "${1:-}" = "--python" ] && python_too=1

flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

echo "[sanitize] C++: configure, build, test (ASan + UBSan)"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGLYPH_BUILD_TESTS=ON \
  -DGLYPH_WITH_TORCH=OFF -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DPython_EXECUTABLE="$GLYPH_VENV/bin/python" >/dev/null
cmake --build build/asan -j "$jobs"
ctest --test-dir build/asan --output-on-failure -j "$jobs"

if [ "$python_too" = 1 ]; then
  echo "[sanitize] Python: glyph._core with ASan + UBSan, pytest with libasan preloaded"
  cmake -S . -B build/asan-py -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGLYPH_BUILD_TESTS=OFF \
    -DGLYPH_BUILD_PYTHON=ON -DGLYPH_WITH_TORCH=OFF -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DPython_EXECUTABLE="$GLYPH_VENV/bin/python" >/dev/null
  cmake --build build/asan-py -j "$jobs" --target _core
  rm -rf build/asan-py/pkg && mkdir -p build/asan-py/pkg
  cp -r python/glyph build/asan-py/pkg/glyph
  cp build/asan-py/bindings/_core*.so build/asan-py/pkg/glyph/
  # Python itself is not built with ASan: its own allocations at exit are not ours to report.
  # The VLM tests need glyph._vlm (libtorch), which this build leaves out: they are skipped.
  PYTHONPATH="$GLYPH_ROOT/build/asan-py/pkg" LD_PRELOAD="$(${CXX:-g++} -print-file-name=libasan.so)" \
    ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" \
    "$GLYPH_VENV/bin/python" -m pytest -q -p no:cacheprovider tests/python \
    --ignore=tests/python/test_vlm.py --ignore=tests/python/test_vlm_ops.py "${@:2}"
fi
echo "[sanitize] clean"
