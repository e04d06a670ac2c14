#!/usr/bin/env bash
# Loads what `glyph sft` writes with each framework's own data-loading code, each framework in a
# throwaway virtual environment (their pins clash with ours), and records the versions.
#
#   GLYPH_VENV=... bash scripts/check_sft_formats.sh [WORK_DIR]     (default /tmp/glyph-sft-check)
#
# torch is not downloaded again: a .pth file lets each throwaway venv see the glyph venv's torch
# (the frameworks' other pins install into the throwaway venv and win over the glyph venv's).
# Results: WORK_DIR/results.json (versions, rows loaded, images checked) and the log on stdout.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
WORK="${1:-/tmp/glyph-sft-check}"
PY="$GLYPH_VENV/bin/python"
mkdir -p "$WORK"
# the site-packages folder that holds the glyph venv's torch (none: the frameworks bring their own)
TORCH_SITE="$("$PY" -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))' 2>/dev/null || true)"

# 1. the datasets, made by glyph from real texts
"$PY" - "$WORK" <<'PYEOF'
import json, os, sys
work = sys.argv[1]
ref = os.path.join(os.environ["GLYPH_ROOT"], "..", "shared", "data", "glyph-reference")
texts = {}
for n in ("input.txt", "case1.txt"):
    if os.path.exists(os.path.join(ref, n)):
        texts[n] = open(os.path.join(ref, n), encoding="utf-8").read()[:6000]
for p in ("/usr/share/common-licenses/GPL-3", "/usr/share/gnupg/help.zh_CN.txt"):
    if os.path.exists(p):
        texts[os.path.basename(p)] = open(p, encoding="utf-8").read()[:6000]
recs = [{"id": k, "context": v, "question": f"What is {k}?", "answer": f"It is {k}."} for k, v in texts.items()]
with open(os.path.join(work, "records.jsonl"), "w", encoding="utf-8") as f:
    for r in recs:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
PYEOF
for fmt in llamafactory swift parquet; do
  "$PY" -m glyph sft --input "$WORK/records.jsonl" --task qa --format "$fmt" --out "$WORK/$fmt" \
    --overwrite --quiet --no-plot --max-pages 8
done
"$PY" -m glyph sft --input "$WORK/records.jsonl" --task ocr --format swift --out "$WORK/swift-abs" \
  --overwrite --quiet --no-plot --image-paths absolute

make_venv() {  # name, pip requirement...
  local v="$WORK/venv-$1"; shift
  if [ ! -x "$v/bin/python" ]; then
    "$PY" -m venv "$v"
    local vsite
    vsite="$("$v/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    # after the venv's own site-packages: torch (and whatever the framework does not pin) from ours
    if [ -n "$TORCH_SITE" ]; then echo "$TORCH_SITE" > "$vsite/_glyph_torch.pth"; fi
  fi
  "$v/bin/pip" install -q "$@"
}

# 2. LLaMA-Factory: its dataset_info parser, loader and sharegpt converter
echo "[check] LLaMA-Factory"
make_venv lf "llamafactory==${LLAMAFACTORY_VERSION:-0.9.5}" > "$WORK/pip-lf.log" 2>&1 || { echo "LLaMA-Factory install failed, see $WORK/pip-lf.log"; tail -5 "$WORK/pip-lf.log"; }
"$WORK/venv-lf/bin/python" "$GLYPH_ROOT/scripts/sft_load_llamafactory.py" "$WORK/llamafactory" | tee "$WORK/lf.json"

# 3. ms-swift: swift.dataset.load_dataset with its messages preprocessor
echo "[check] ms-swift"
make_venv swift "ms-swift==${SWIFT_VERSION:-4.6.0}" > "$WORK/pip-swift.log" 2>&1 || { echo "ms-swift install failed, see $WORK/pip-swift.log"; tail -5 "$WORK/pip-swift.log"; }
"$WORK/venv-swift/bin/python" "$GLYPH_ROOT/scripts/sft_load_swift.py" "$WORK/swift" "$WORK/swift-abs" | tee "$WORK/swift.json"

# 4. Hugging Face datasets (the glyph venv's)
echo "[check] datasets parquet"
"$PY" - "$WORK/parquet" <<'PYEOF' | tee "$WORK/parquet.json"
import glob, json, sys, datasets
files = sorted(glob.glob(sys.argv[1] + "/data/*.parquet"))
ds = datasets.load_dataset("parquet", data_files=files, split="train")
n_img = sum(len(r["images"]) for r in ds)
tags = sum(b["type"] == "image" for r in ds for m in r["messages"] for b in m["content"])
assert n_img == tags, (n_img, tags)
print(json.dumps({"framework": "datasets", "version": datasets.__version__, "rows": len(ds),
                  "images": n_img, "first_image_size": list(ds[0]["images"][0].size)}))
PYEOF
"$PY" - "$WORK" <<'PYEOF'
import json, os, sys
w = sys.argv[1]
out = {}
for n in ("lf", "swift", "parquet"):
    try:
        out[n] = json.loads(open(os.path.join(w, n + ".json")).read().strip().splitlines()[-1])
    except Exception as e:
        out[n] = {"error": str(e)}
json.dump(out, open(os.path.join(w, "results.json"), "w"), indent=2)
print(json.dumps(out, indent=2))
PYEOF
