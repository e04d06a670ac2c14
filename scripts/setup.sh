#!/usr/bin/env bash
# One command for a fresh machine: install what is needed, build, and run the main job
# (render a sample text with Glyph's default config and print what it cost).
set -euo pipefail
source "$(dirname "$0")/env.sh"
glyph_apt_install
glyph_venv requirements.txt  # the VLM (torch) comes with the test requirements
echo "[glyph] building and installing glyphcpp into $GLYPH_VENV"
glyph_install_python
echo "[glyph] rendering the sample text with the default config into ./glyph_out"
"$GLYPH_VENV/bin/glyph" render --out glyph_out "$@"
