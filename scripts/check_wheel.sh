#!/usr/bin/env bash
# CI's wheel step (scripts/test.sh): builds the self-contained wheel (scripts/build_wheel.sh,
# incremental in build/wheel/cmake), installs it into a fresh virtual environment (numpy, tqdm and
# Pillow from a local folder of wheels, downloaded once into ~/.cache/glyphcpp), and runs
# tests/wheel/smoke.py there, from outside the source tree. The stricter check, in a bare Debian
# root without a network, is scripts/check_wheel_isolated.sh (docs/install.md).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$GLYPH_ROOT"
PY="$GLYPH_VENV/bin/python"
tag="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
house="${GLYPH_WHEELHOUSE:-$HOME/.cache/glyphcpp/wheelhouse-$tag}"
whl="$(bash scripts/build_wheel.sh | tail -1)"
if ! ls "$house"/numpy-*.whl "$house"/tqdm-*.whl "$house"/pillow-*.whl >/dev/null 2>&1; then
  "$PY" -m pip download -q --only-binary :all: -d "$house" numpy tqdm pillow
fi
venv="$GLYPH_ROOT/build/wheel/venv"
rm -rf "$venv"
# a venv of the base interpreter (not of $GLYPH_VENV, and without its site-packages)
base="$("$PY" -c 'import sys, os; print(os.path.join(sys.base_prefix, "bin", "python3"))')"
"$base" -m venv "$venv"
"$venv/bin/pip" install -q --no-index --find-links "$house" "$whl" pillow
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && "$venv/bin/python" "$GLYPH_ROOT/tests/wheel/smoke.py" --cli "$venv/bin/glyph" --out "$work/out")
