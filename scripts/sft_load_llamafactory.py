"""Load a `glyph sft --format llamafactory` folder with LLaMA-Factory's own data code (run in a
venv with llamafactory installed; scripts/check_sft_formats.sh). Prints one JSON line."""
import json
import sys
import tempfile

import llamafactory
from llamafactory.data.loader import _load_single_dataset
from llamafactory.data.parser import get_dataset_list
from llamafactory.data.template import TEMPLATES
from llamafactory.hparams import DataArguments, ModelArguments
from transformers import Seq2SeqTrainingArguments

out = sys.argv[1]
name = sys.argv[2] if len(sys.argv) > 2 else "glyph_sft"
(attr,) = get_dataset_list([name], out)          # parses OUT/dataset_info.json
data_args = DataArguments(dataset=name, dataset_dir=out, template="glm4v")
model_args = ModelArguments(model_name_or_path="unused-for-loading")
training_args = Seq2SeqTrainingArguments(output_dir=tempfile.mkdtemp(), report_to=[])
ds = _load_single_dataset(attr, model_args, data_args, training_args)  # load + sharegpt converter
plugin = TEMPLATES["glm4v"].mm_plugin
images = 0
for row in ds:
    messages = row["_prompt"] + row["_response"]
    plugin._validate_messages(messages, row["_images"], [], [])  # one <image> per image
    imgs = plugin._regularize_images(row["_images"], image_max_pixels=768 * 768,
                                     image_min_pixels=32 * 32)["images"]  # opens every PNG
    assert len(imgs) == len(row["_images"]) and all(i.mode == "RGB" for i in imgs)
    assert row["_response"][0]["role"] == "assistant" and row["_response"][0]["content"]
    images += len(imgs)
print(json.dumps({"framework": "llamafactory", "version": llamafactory.__version__,
                  "formatting": attr.formatting, "rows": len(ds), "images": images,
                  "columns": sorted(ds.column_names)}))
