# Shared by the setup, test and CI scripts: where the virtual environment lives (outside the clone,
# so it survives fresh clones and CI reuses it) and how to make it.
# shellcheck shell=bash
GLYPH_VENV="${GLYPH_VENV:-$HOME/.cache/glyphcpp/venv}"
GLYPH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export GLYPH_VENV GLYPH_ROOT

# The minimal Debian 12 root (debootstrap minbase with python3 and python3-venv) that the isolated
# wheel check and the GPU run's rehearsal start from: made once (needs root and debootstrap),
# cached at $GLYPH_DEBROOT.
GLYPH_DEBROOT="${GLYPH_DEBROOT:-$HOME/.cache/glyphcpp/debroot-bookworm}"
glyph_debroot() {
  [ -x "$GLYPH_DEBROOT/usr/bin/python3" ] && return 0
  command -v debootstrap >/dev/null \
    || { echo "[glyph] needs debootstrap: apt-get install debootstrap" >&2; return 1; }
  echo "[glyph] debootstrap: minimal Debian 12 with python3 into $GLYPH_DEBROOT (once)"
  rm -rf "$GLYPH_DEBROOT.tmp"
  debootstrap --variant=minbase --include=python3,python3-venv bookworm "$GLYPH_DEBROOT.tmp" \
    "${GLYPH_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >/dev/null
  mv "$GLYPH_DEBROOT.tmp" "$GLYPH_DEBROOT"
}

# Debian packages the build and the tests need.
GLYPH_APT_PACKAGES=(cmake g++ make ccache pkg-config libfreetype-dev libharfbuzz-dev libfmt-dev libstb-dev
  libdeflate-dev nlohmann-json3-dev libpcre2-dev catch2 pybind11-dev poppler-utils
  fonts-dejavu-core fonts-noto-cjk fonts-wqy-microhei python3-venv tesseract-ocr tesseract-ocr-eng
  pngcheck)
# fonts-wqy-microhei: a TrueType-outline CJK font, which reportlab (the reference) can embed where
# it cannot embed Noto CJK's CFF outlines; the parity tests use it for config_zh pages.
# pngcheck: an outside validator of the PNG files (tests/python/test_png.py).
# ccache: see glyph_ccache below.

glyph_apt_install() {
  local missing=()
  for p in "${GLYPH_APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "[glyph] installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  glyph_ccache
}

# Every build these scripts make goes through ccache where it is installed (GLYPH_CCACHE=0 turns
# it off): CI compiles the same renderer, tokenizer and search sources with the same flags in three
# trees (the C++ tests', the wheel's and the Python package's) and the VLM with its kernels in
# three (those of the C++ tests, the VLM alone and the package), and ccache hands
# the later ones the objects the first compiled (a hit is keyed on the preprocessed source, the
# compiler and every flag, so it is the object a compile would give). CMake reads these variables
# when it first configures a build tree; one already configured keeps what it had.
glyph_ccache() {
  [ "${GLYPH_CCACHE:-1}" != 0 ] && command -v ccache >/dev/null || return 0
  local lang var
  for lang in C CXX CUDA; do
    var="CMAKE_${lang}_COMPILER_LAUNCHER"
    [ -n "${!var:-}" ] || export "$var=ccache"
  done
}
glyph_ccache

glyph_venv() {
  if [ ! -x "$GLYPH_VENV/bin/python" ]; then
    echo "[glyph] creating virtual environment $GLYPH_VENV"
    mkdir -p "$(dirname "$GLYPH_VENV")"
    python3 -m venv "$GLYPH_VENV"
    "$GLYPH_VENV/bin/pip" install -q --upgrade pip
  fi
  # Only what is missing is downloaded; an up-to-date venv costs a second.
  "$GLYPH_VENV/bin/pip" install -q -r "$GLYPH_ROOT/${1:-requirements-dev.txt}"
}

# Builds and installs the Python package (incremental: scikit-build-core keeps build/py-*).
glyph_install_python() {
  "$GLYPH_VENV/bin/pip" install -q --no-build-isolation --no-deps "$GLYPH_ROOT"
}
