"""Load `glyph sft --format swift` folders with ms-swift's own dataset loader and image loader
(run in a venv with ms-swift installed; scripts/check_sft_formats.sh). Arguments: folders; a
folder with relative image paths is loaded with ROOT_IMAGE_DIR set to it (ms-swift's setting
for relative paths). Prints one JSON line."""
import glob
import json
import os
import sys

import swift
from swift.dataset import load_dataset

result = {"framework": "ms-swift", "version": swift.__version__, "folders": []}
for folder in sys.argv[1:]:
    files = sorted(glob.glob(os.path.join(folder, "data", "*.jsonl")))
    first = json.loads(open(files[0], encoding="utf-8").readline())
    relative = not os.path.isabs(first["images"][0])
    if relative:
        os.environ["ROOT_IMAGE_DIR"] = os.path.abspath(folder)
    else:
        os.environ.pop("ROOT_IMAGE_DIR", None)
    from swift.template.vision_utils import load_image

    train, val = load_dataset(files, strict=True, num_proc=1, load_from_cache_file=False)
    assert val is None
    images = 0
    for row in train:
        text = "".join(m["content"] for m in row["messages"])
        paths = [i["path"] if isinstance(i, dict) else i for i in row["images"]]
        assert text.count("<image>") == len(paths), (text[:200], paths)
        imgs = [load_image(p) for p in paths]  # ms-swift opens each PNG
        assert all(i.mode == "RGB" and i.size[0] > 0 for i in imgs)
        assert row["messages"][-1]["role"] == "assistant"
        images += len(imgs)
    result["folders"].append({"folder": os.path.basename(folder), "rows": len(train), "images": images,
                              "paths": "relative (ROOT_IMAGE_DIR)" if relative else "absolute",
                              "columns": sorted(train.column_names)})
print(json.dumps(result))
