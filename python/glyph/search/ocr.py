"""The OCR evaluator: how legible a config's pages are, without a VLM (Tesseract)."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from typing import Any, Mapping

from .._core import SearchError, char_accuracy

__all__ = ["OcrEvaluator"]

Sample = Mapping[str, Any]


class OcrEvaluator:
    """Legibility without a VLM: OCR each page with Tesseract and score character accuracy
    (1 - edit distance / length) against the text span the page shows; pages weigh by length.

    ``upscale`` enlarges pages before OCR (Tesseract is tuned for ~300 dpi scans; at 72 dpi a
    9 pt font is 9 px high). It is the same for every config, so rankings stay comparable; it is a
    proxy for how readable the page is, not for what a VLM reads. Whitespace is collapsed on both
    sides before comparing.
    """

    def __init__(
        self,
        lang: str = "eng",
        psm: int = 6,
        upscale: float = 2.0,
        tesseract: str = "tesseract",
        timeout: float = 300.0,
    ):
        self.tesseract = shutil.which(tesseract) or ""
        if not self.tesseract:
            raise SearchError(
                f"OcrEvaluator needs the '{tesseract}' binary (Debian: apt-get install "
                "tesseract-ocr tesseract-ocr-eng)"
            )
        self.lang, self.psm, self.upscale, self.timeout = lang, int(psm), float(upscale), timeout

    def ocr(self, page) -> str:
        with tempfile.TemporaryDirectory(prefix="glyph-ocr-") as tmp:
            path = os.path.join(tmp, "page.png")
            if self.upscale != 1.0:
                from PIL import Image

                img = page.to_pil()
                w, h = img.size
                img = img.resize((max(1, round(w * self.upscale)), max(1, round(h * self.upscale))),
                                 Image.LANCZOS)
                img.save(path)
            else:
                page.save(path, 1)
            env = dict(os.environ, OMP_THREAD_LIMIT="1")
            proc = subprocess.run(
                [self.tesseract, path, "stdout", "-l", self.lang, "--psm", str(self.psm)],
                capture_output=True, timeout=self.timeout, env=env,
            )
            if proc.returncode != 0:
                raise SearchError(
                    f"tesseract failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[:300]}"
                )
            return proc.stdout.decode("utf-8", errors="replace")

    @staticmethod
    def normalize(text: str) -> str:
        return " ".join(text.split())

    def __call__(self, config, pages, sample: Sample) -> float:
        text = sample["text"]
        total, weighted = 0, 0.0
        for page in pages:
            ref = self.normalize(text[page.char_begin : page.char_end])
            if not ref:
                continue
            hyp = self.normalize(self.ocr(page))
            weighted += char_accuracy(hyp, ref) * len(ref)
            total += len(ref)
        return weighted / total if total else 1.0
