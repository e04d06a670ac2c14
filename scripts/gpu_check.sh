#!/usr/bin/env bash
# The GPU check (issues 10 and 11): builds glyphcpp against this machine's own torch, then runs
# scripts/gpu_check.py (CUDA parity, full-size prefill/decode benchmarks, transformers
# comparison, loader). Results: $OUT/gpu_check.json (written as it goes), a table printed last.
#
#   bash scripts/gpu_carry.sh                           # here, once: the .deb files into .gpu/
#   device run, carry [".gpu"]:  bash scripts/gpu_check.sh
#   bash scripts/gpu_check.sh --tiny                    # on the CPU with the installed package
#   bash scripts/gpu_check.sh --rehearse                # the device's build, then the tiny steps
#                                                       # on the CPU with what it built
#                                                       # (scripts/gpu_rehearse.sh runs it in a
#                                                       # root like the GPU machine's)
#
# On a bare GPU machine (PyTorch, nvcc, CMake, no network, none of the Debian dev packages) the
# carried packages are unpacked into /tmp/glyph-gpu-prefix and the build looks there first. Total budget
# GPU_CHECK_BUDGET seconds (default 420) for build + steps; later steps are skipped to fit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
OUT="${OUT:-$ROOT/build/gpu_check}"
mkdir -p "$OUT"
PY="${GLYPH_PYTHON:-python3}"
if [ "${1:-}" = "--tiny" ]; then
  shift
  exec "$PY" scripts/gpu_check.py --tiny --out "$OUT" "$@"
fi
rehearse=()
if [ "${1:-}" = "--rehearse" ]; then shift; rehearse=(--rehearse); fi
start=$(date +%s)
budget="${GPU_CHECK_BUDGET:-420}"

if [ -d .gpu/debs ]; then
  P="${GLYPH_GPU_PREFIX:-/tmp/glyph-gpu-prefix}"  # outside the source tree (CMake exports refuse paths in it)
  rm -rf "$P" && mkdir -p "$P"
  for f in .gpu/debs/*.deb; do dpkg -x "$f" "$P"; done
  # Debian's harfbuzz CMake config and .pc files name /usr: point them at the prefix.
  sed -i "s#\"/usr#\"$P/usr#g" "$P"/usr/lib/x86_64-linux-gnu/cmake/harfbuzz/harfbuzz-config.cmake
  L="$P/usr/lib/x86_64-linux-gnu"
  export CMAKE_PREFIX_PATH="$P/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export PKG_CONFIG_SYSROOT_DIR="$P" PKG_CONFIG_LIBDIR="$L/pkgconfig:$P/usr/share/pkgconfig"
  export PKG_CONFIG_EXECUTABLE="$P/usr/bin/pkgconf"
  export LD_LIBRARY_PATH="$L${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export CPATH="$P/usr/include${CPATH:+:$CPATH}" LIBRARY_PATH="$L${LIBRARY_PATH:+:$LIBRARY_PATH}"
  extra=(-DPKG_CONFIG_EXECUTABLE="$P/usr/bin/pkgconf")
else
  extra=()
fi

# Machine code for this machine's GPU alone (nvcc runs once per architecture, and it is most of
# the build); TORCH_CUDA_ARCH_LIST set by the caller wins. Without a GPU: the default (8.0;9.0).
if [ -z "${TORCH_CUDA_ARCH_LIST:-}" ]; then
  cap="$("$PY" -c 'import torch; c = torch.cuda.get_device_capability() if torch.cuda.is_available() else None; print(f"{c[0]}.{c[1]}" if c else "")' 2>/dev/null || true)"
  if [ -n "$cap" ]; then export TORCH_CUDA_ARCH_LIST="$cap"; fi
fi
echo "[gpu_check] build against $("$PY" -c 'import torch; print(torch.__version__)'), CUDA architectures ${TORCH_CUDA_ARCH_LIST:-default}"
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S . -B build/gpu "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DGLYPH_BUILD_PYTHON=ON \
  -DGLYPH_WITH_TORCH=ON -DGLYPH_WITH_CUDA="${GLYPH_WITH_CUDA:-AUTO}" -DGLYPH_BUILD_TESTS=OFF -DPython_EXECUTABLE="$(command -v "$PY")" \
  -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" "${extra[@]}" > "$OUT/configure.log" 2>&1 \
  || { tail -30 "$OUT/configure.log"; exit 1; }
cmake --build build/gpu -j "$(nproc)" --target _core _vlm > "$OUT/build.log" 2>&1 \
  || { grep -E "error|Error" "$OUT/build.log" | head -30; exit 1; }
SITE="$ROOT/build/gpu/site"
rm -rf "$SITE" && mkdir -p "$SITE" && cp -r python/glyph "$SITE/glyph"
cp build/gpu/bindings/_core*.so build/gpu/bindings/_vlm*.so "$SITE/glyph/"
# The modules' rpath ($ORIGIN/../torch/lib, ../nvidia/...) finds torch's and CUDA's libraries where
# glyph is installed beside torch, not in $SITE: a process that imports glyph._vlm before torch (a
# test does) finds them through the folders torch loaded them from.
TORCH_LIBS="$("$PY" -c 'import os, torch
print(":".join(sorted({os.path.dirname(ln.split()[-1]) for ln in open("/proc/self/maps")
                       if "/libtorch" in ln or "/libc10" in ln or "/libcudart" in ln})))')"
export LD_LIBRARY_PATH="$TORCH_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
built=$(( $(date +%s) - start ))
echo "[gpu_check] built in ${built} s"
PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 \
  exec "$PY" scripts/gpu_check.py "${rehearse[@]}" --out "$OUT" --budget $(( budget - built )) "$@"
