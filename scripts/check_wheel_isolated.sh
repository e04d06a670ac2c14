#!/usr/bin/env bash
# Installs the wheel where nothing else can leak in (docs/install.md): a minimal Debian 12 root
# made with debootstrap (--variant=minbase plus python3 and python3-venv; no FreeType, HarfBuzz,
# libdeflate, PNG, glib or fonts; no compiler), entered with chroot and without a network
# (unshare -n). There it makes a fresh virtual environment, installs the wheel and numpy, tqdm and
# Pillow from a local folder of wheels (--no-index), and runs tests/wheel/smoke.py: import glyph
# without torch, every shared library of glyph._core resolved inside the wheel, a page rendered and
# decoded by Pillow, `glyph --version`, `glyph render` on a file, and the warning for Chinese text
# with no CJK font.
#
#   sudo GLYPH_VENV=... bash scripts/check_wheel_isolated.sh [WHEEL]   (default: build it)
#
# Needs root (chroot) and debootstrap (apt-get install debootstrap). The Debian root (~280 MB) and
# the wheels are cached in ~/.cache/glyphcpp (GLYPH_DEBROOT, GLYPH_WHEELHOUSE): the first run
# downloads them (a few minutes), later runs take seconds.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$GLYPH_ROOT"
PY="$GLYPH_VENV/bin/python"
root="$GLYPH_DEBROOT"
house="${GLYPH_WHEELHOUSE:-$HOME/.cache/glyphcpp/wheelhouse-cp311}"

[ "$(id -u)" = 0 ] || { echo "[glyph] needs root (chroot, debootstrap)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "[glyph] needs debootstrap: apt-get install debootstrap" >&2; exit 1; }

whl="${1:-}"
if [ -z "$whl" ]; then
  whl="$(bash scripts/build_wheel.sh | tail -1)"
fi
[ -f "$whl" ] || { echo "[glyph] no wheel at $whl" >&2; exit 1; }

glyph_debroot
# What the wheel must bring itself is not in the root (PCRE2 is: grep needs it; the wheel carries
# its own copy under a mangled name, which smoke.py checks through ldd).
for pkg in libfreetype6 libharfbuzz0b libdeflate0 libpng16-16 libglib2.0-0 fonts-dejavu-core \
           fonts-noto-cjk fonts-wqy-microhei gcc; do
  if chroot "$root" dpkg -s "$pkg" >/dev/null 2>&1; then
    echo "[glyph] $root has $pkg installed: not a clean root (remove it, or point GLYPH_DEBROOT elsewhere)" >&2
    exit 1
  fi
done

if ! ls "$house"/numpy-*.whl "$house"/tqdm-*.whl "$house"/pillow-*.whl >/dev/null 2>&1; then
  echo "[glyph] downloading numpy, tqdm, Pillow wheels for CPython 3.11 into $house (once)"
  "$PY" -m pip download -q --only-binary :all: --python-version 3.11 \
    --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 -d "$house" numpy tqdm pillow
fi

work="$root/opt/glyph-check"
rm -rf "$work"
mkdir -p "$work/wheels" "$work/out"
cp "$whl" "$house"/*.whl "$work/wheels/"
cp tests/wheel/smoke.py "$work/"
printf 'Glyph renders long text into pages.\n\nA second paragraph, to be rendered by glyph render.\n' > "$work/in.txt"

echo "[glyph] in the chroot, without a network: venv, pip install $(basename "$whl"), smoke test"
unshare -n chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 /bin/sh -euc '
  cd /opt/glyph-check
  python3 -m venv venv
  venv/bin/pip install -q --no-index --find-links wheels glyphcpp[pil]
  venv/bin/python smoke.py --cli venv/bin/glyph --text in.txt --out out --expect-no-cjk-font
'
echo "[glyph] isolated wheel check passed ($(basename "$whl"))"
