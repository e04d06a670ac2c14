#!/usr/bin/env bash
# The source distribution (docs/install.md): makes the sdist, checks what it holds, then installs
# it into a fresh virtual environment on this machine (which has the Debian dev packages) the way
# docs/install.md tells a user who wants the VLM: `pip install --no-build-isolation` with torch
# importable, so that glyph._vlm is built against that torch. The fresh venv sees the torch,
# scikit-build-core and pybind11 of $GLYPH_VENV through a .pth file (as a user's environment
# would have them installed), never its glyphcpp. Then: `import glyph` without torch, glyph.vlm
# imports and a random tiny GLM-4.1V generates, a page renders, glyph --version.
#
#   GLYPH_VENV=... bash scripts/check_sdist.sh        (a full build, the VLM included: slow;
#                                                     not in CI, see docs/install.md)
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$GLYPH_ROOT"
PY="$GLYPH_VENV/bin/python"
out="$GLYPH_ROOT/build/sdist"
rm -rf "$out"
mkdir -p "$out"
"$PY" -m build --sdist --no-isolation -o "$out" . >/dev/null
sdist="$(ls "$out"/glyphcpp-*.tar.gz)"
tar tzf "$sdist" > "$out/contents.txt"
for f in python/glyph/_version.py pyproject.toml CMakeLists.txt cmake/FindLibDeflate.cmake \
         cmake/FindPCRE2.cmake cmake/glyphConfig.cmake.in python/glyph/fonts/DejaVuSans.ttf \
         cpp/src/vlm/model.cpp bindings/vlm.cpp; do
  grep -q "^glyphcpp-[0-9.]*/$f\$" "$out/contents.txt" || { echo "[glyph] the sdist lacks $f" >&2; exit 1; }
done
if grep -E "\.so$|^glyphcpp-[0-9.]*/build/|\.ci/" "$out/contents.txt"; then
  echo "[glyph] the sdist holds build outputs" >&2; exit 1
fi
echo "[glyph] $(basename "$sdist"): $(wc -l < "$out/contents.txt") files, $(du -k "$sdist" | cut -f1) KiB"

base="$("$PY" -c 'import sys, os; print(os.path.join(sys.base_prefix, "bin", "python3"))')"
"$base" -m venv "$out/venv"
site="$("$out/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
"$PY" -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))' > "$site/zz-torch.pth"
echo "[glyph] pip install --no-build-isolation $(basename "$sdist") (torch $("$PY" -c 'import torch; print(torch.__version__)'))"
start=$(date +%s)
CMAKE_BUILD_PARALLEL_LEVEL="${GLYPH_JOBS:-2}" "$out/venv/bin/pip" install -q --no-build-isolation \
  --no-deps "$sdist"
echo "[glyph] built and installed in $(( $(date +%s) - start )) s"
cd "$out"
"$out/venv/bin/python" - "$out/venv" <<'PYEOF'
import json, os, sys
venv = sys.argv[1]
import glyph
assert glyph.__file__.startswith(venv), glyph.__file__
assert "torch" not in sys.modules, "import glyph imported torch"
page = glyph.Renderer().render(glyph.sample_text()).pages[0]
assert page.visual_tokens > 0
import glyph.vlm as gv
import torch
built = json.load(open(os.path.join(os.path.dirname(glyph.__file__), "_vlm_build.json")))
assert built["torch"] == torch.__version__, (built, torch.__version__)
cfg = {"model_type": "glm4v",
       "text_config": {"vocab_size": 512, "hidden_size": 64, "intermediate_size": 96,
                       "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                       "rope_parameters": {"mrope_section": [1, 1, 2]}},
       "vision_config": {"hidden_size": 32, "depth": 2, "num_heads": 2, "out_hidden_size": 64,
                         "intermediate_size": 80, "image_size": 56},
       "image_token_id": 511, "image_start_token_id": 509, "image_end_token_id": 510,
       "video_start_token_id": 507, "video_end_token_id": 508, "torch_dtype": "float32"}
m = gv.Glm4v.random(cfg, dtype="float32", seed=1)
r = m.generate([1, 2, 3, 4], max_new_tokens=5, stop_ids=[-1])
assert len(r.tokens) == 5, r.tokens
print(f"glyph {glyph.__version__} from the sdist: a page ({page.visual_tokens} visual tokens); "
      f"glyph._vlm built against torch {built['torch']}; a random GLM-4.1V generated {list(r.tokens)}")
PYEOF
v="$("$out/venv/bin/glyph" --version)"
[ "$v" = "glyphcpp $("$PY" -c 'exec(open("'"$GLYPH_ROOT"'/python/glyph/_version.py").read()); print(__version__)')" ]
echo "[glyph] sdist check passed ($v)"
