#!/usr/bin/env bash
# Rehearses the device run of scripts/gpu_check.sh here, without a GPU, in a root made to look
# like the GPU machine (device README, KINDS.md), so that the 15 minutes of device time are not
# spent finding out that the build breaks there:
#   - a minimal Debian 12 root (the isolated wheel check's cached root, copied) with a compiler
#     and make, and NONE of the project's Debian dev packages (no FreeType, HarfBuzz, fmt, PCRE2,
#     libdeflate, stb, nlohmann-json, pkg-config): the build must get them from the carried
#     .gpu/debs alone, as there;
#   - the device's Python (3.12) and package versions: torch 2.11.0+cu130 (PyPI's 2.11.0 is that
#     build), transformers 5.17.0, tokenizers 0.23.2, safetensors 0.8.0, numpy 2.5.2,
#     huggingface_hub 1.33.0, torchvision 0.26.0, and cmake, ninja, pybind11, pytest, in /opt/torch/.venv as there;
#   - CUDA's compiler: this machine's toolkit, bound read-only at /usr/local/cuda;
#   - what travels: the files the device tool sends (tracked and untracked-not-ignored ones) and
#     the carried .gpu folder, nothing else;
#   - no network while it runs (unshare -n).
# There it runs `bash scripts/gpu_check.sh --rehearse`: the device's configure and build
# (TORCH_CUDA_ARCH_LIST=9.0, an H200's), then every step of the check in tiny mode on the CPU
# against the modules just built. What it cannot rehearse: anything that needs the GPU itself.
# The modules it built are then left in .gpu/prebuilt with their stamp (scripts/gpu_check.sh's
# header), for the device run to use where its stamp is the same; and a fresh copy of the tree
# with that .gpu checks that gpu_check.sh there takes them (`--check-prebuilt`).
#
#   sudo bash scripts/gpu_rehearse.sh          # needs root (chroot, unshare), debootstrap once
#
# The prepared root is cached (GLYPH_GPUROOT, default ~/.cache/glyphcpp/gpuroot-rehearse, about
# 6 GB with torch's CUDA libraries): the first run takes several minutes, later ones reuse it.
# Results: build/gpu_rehearse/ (the check's JSON and logs), and the check's table printed last.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$GLYPH_ROOT"

[ "$(id -u)" = 0 ] || { echo "[rehearse] needs root (chroot, unshare)" >&2; exit 1; }
[ -d .gpu/debs ] || { echo "[rehearse] no .gpu/debs: run bash scripts/gpu_carry.sh first" >&2; exit 1; }
cuda="${CUDA_HOME:-/usr/local/cuda}"
[ -x "$cuda/bin/nvcc" ] || { echo "[rehearse] no nvcc under $cuda (set CUDA_HOME)" >&2; exit 1; }
# The device's Python is 3.12; a self-contained 3.12 from this machine is copied in (pyenv's, or
# GLYPH_REHEARSE_PYTHON=/path/to/python3.12), at the same path, since such builds are not
# relocatable.
py312="${GLYPH_REHEARSE_PYTHON:-$(ls -d "$HOME"/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | tail -1 || true)}"
pyprefix="$("${py312:-python3.12}" -c 'import sys; print(sys.base_prefix)' 2>/dev/null)" \
  || { echo "[rehearse] no Python 3.12 here (set GLYPH_REHEARSE_PYTHON)" >&2; exit 1; }
[ "$pyprefix" != /usr ] || { echo "[rehearse] $py312 is the system's Python; give a self-contained one" >&2; exit 1; }

root="${GLYPH_GPUROOT:-$HOME/.cache/glyphcpp/gpuroot-rehearse}"
# The device's versions (KINDS.md's pip list, 2026-11); PyPI's torch 2.11.0 is 2.11.0+cu130.
pins=(torch==2.11.0 transformers==5.17.0 tokenizers==0.23.2 safetensors==0.8.0 numpy==2.5.2
      huggingface_hub==1.33.0 triton==3.6.0 torchvision==0.26.0 cmake ninja pybind11 pytest pillow tqdm)

in_root() {  # run a command in the root with /proc, /dev and the CUDA toolkit mounted
  local net="$1"; shift
  local flags=(-m); [ "$net" = offline ] && flags+=(-n)
  unshare "${flags[@]}" /bin/bash -euc '
    r="$1"; c="$2"; shift 2
    mount --make-rprivate /
    mount -t proc proc "$r/proc"
    mount --rbind /dev "$r/dev"
    mkdir -p "$r/usr/local/cuda"
    mount --bind "$c" "$r/usr/local/cuda" && mount -o remount,bind,ro "$r/usr/local/cuda"
    exec chroot "$r" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
      PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:/usr/bin:/bin "$@"' _ "$root" "$cuda" "$@"
}

stamp="${pins[*]} $pyprefix"  # a root made for other versions is made again
if [ "$(cat "$root/.ready" 2>/dev/null)" != "$stamp" ]; then
  glyph_debroot
  echo "[rehearse] preparing $root: compiler, Python 3.12, the device's packages (once)"
  rm -rf "$root" && cp -a "$GLYPH_DEBROOT" "$root"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mkdir -p "$root$pyprefix" && cp -a "$pyprefix/." "$root$pyprefix/"
  # The wheels are fetched by this machine's pip (its index and certificates), for CPython 3.12,
  # and installed in the root from that folder alone.
  house="$root/opt/wheels"
  mkdir -p "$house"
  plats=(--platform any --platform manylinux2014_x86_64)  # pip matches manylinux_2_N exactly
  for n in $(seq 17 36); do plats+=(--platform "manylinux_2_${n}_x86_64"); done
  "$GLYPH_VENV/bin/pip" download -q --only-binary=:all: --python-version 3.12 --implementation cp \
    "${plats[@]}" -d "$house" "${pins[@]}"
  in_root online /bin/sh -euc "
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends g++ make git >/dev/null
    $pyprefix/bin/python3.12 -m venv /opt/torch/.venv
    /opt/torch/.venv/bin/pip install -q --no-index --find-links /opt/wheels ${pins[*]}
  "
  rm -rf "$house"
  # The dev packages must not be there (the check is what the carried .deb files give).
  for pkg in libfreetype-dev libharfbuzz-dev libfmt-dev libpcre2-dev libdeflate-dev libstb-dev \
             nlohmann-json3-dev pkgconf pkg-config; do
    if chroot "$root" dpkg -s "$pkg" >/dev/null 2>&1; then
      echo "[rehearse] $root has $pkg: not a bare root" >&2; exit 1
    fi
  done
  echo "$stamp" > "$root/.ready"
fi

# What the device tool sends: tracked and untracked-not-ignored files, and the carried .gpu.
work="$root/opt/repo"
send_tree() {  # a fresh $work with what the device tool sends
  rm -rf "$work" && mkdir -p "$work"
  git ls-files -z -co --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null \
    | tar -xf - -C "$work"  # (--ignore-failed-read: a tracked file deleted in the tree is not sent)
  cp -a .gpu "$work/.gpu"
}
rm -rf "$root/opt/out" && mkdir -p "$root/opt/out"
send_tree
echo "[rehearse] $(chroot "$root" /opt/torch/.venv/bin/python -c 'import sys, torch, transformers; print(f"Python {sys.version.split()[0]}, torch {torch.__version__}, transformers {transformers.__version__}")'), no network"
start=$(date +%s)
set +e
commit="$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo -dirty)"
arch="${TORCH_CUDA_ARCH_LIST:-9.0}"
in_root offline /bin/bash -c "cd /opt/repo && OUT=/opt/out GLYPH_COMMIT=$commit GPU_CHECK_BUDGET=${GPU_CHECK_BUDGET:-7200} TORCH_CUDA_ARCH_LIST=$arch \
  GLYPH_WITH_CUDA=ON GLYPH_GPU_BUILD=always bash scripts/gpu_check.sh --rehearse"
rc=$?
set -e
mkdir -p build/gpu_rehearse && cp -a "$root/opt/out/." build/gpu_rehearse/
echo "[rehearse] exit $rc after $(( $(date +%s) - start )) s; logs and JSON in build/gpu_rehearse/"
[ "$rc" = 0 ] || exit $rc
# The modules for the device run, with their stamp; then what a device run would do with them,
# in a fresh copy of what travels (no build folder).
built="$root/opt/repo/build/gpu/bindings"
rm -rf .gpu/prebuilt && mkdir -p .gpu/prebuilt
cp "$built"/_core*.so "$built"/_vlm*.so "$built/stamp" "$built/stamp.txt" .gpu/prebuilt/
echo "[rehearse] .gpu/prebuilt: $(du -sh .gpu/prebuilt | cut -f1), stamp $(cat .gpu/prebuilt/stamp)"
send_tree
# (GLYPH_WITH_CUDA=ON as there, where a GPU is found; the device's Python is 3.12.3, the same ABI,
# which the stamp names rather than the release)
in_root offline /bin/bash -c "cd /opt/repo && OUT=/opt/out TORCH_CUDA_ARCH_LIST=$arch GLYPH_WITH_CUDA=ON bash scripts/gpu_check.sh --check-prebuilt"
