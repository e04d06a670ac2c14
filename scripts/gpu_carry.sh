#!/usr/bin/env bash
# Prepares .gpu/: the Debian packages the build needs that a bare GPU machine lacks (FreeType,
# HarfBuzz, PCRE2, libdeflate, fmt, nlohmann-json, stb, pkgconf and their runtime libraries), as
# .deb files. Run it here (it needs Debian's package registry), then name .gpu in the device
# tool's `carry`; scripts/gpu_check.sh unpacks them into /tmp/glyph-gpu-prefix there. About 10 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
# .gpu is kept out of git through the clone's own exclude file (a clone made without git's
# templates has no .git/info, and .git may be a file in a worktree: ask git where it lives).
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qx '/.gpu/' "$exclude" 2>/dev/null || echo '/.gpu/' >> "$exclude"
mkdir -p .gpu/debs
cd .gpu/debs
apt-get download libfreetype-dev libfreetype6 libharfbuzz-dev libharfbuzz0b libgraphite2-3 \
  libpng16-16 libbrotli1 libdeflate-dev libdeflate0 libpcre2-dev libpcre2-8-0 libpcre2-16-0 \
  libpcre2-32-0 libpcre2-posix3 libfmt-dev libfmt9 nlohmann-json3-dev libstb-dev libstb0 libglib2.0-0 \
  pkgconf pkgconf-bin libpkgconf3 2>&1 | grep -v "^W: Download is performed unsandboxed" || true
ls -1 | wc -l | xargs echo "[gpu_carry] .deb files in .gpu/debs:"
du -sh . | cut -f1 | xargs echo "[gpu_carry] size:"
