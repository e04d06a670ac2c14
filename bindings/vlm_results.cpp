// The VLM's result types (glyph/vlm/results.h: plain data, no torch), bound in glyph._core so
// that glyph.Answer and glyph.GenerateOutput exist without torch; glyph._vlm returns them.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "glyph/vlm/results.h"
#include "support.h"

namespace py = pybind11;
using namespace glyph::vlm;
using namespace glyph::py_support;

void init_vlm_results(py::module_& m) {
  py::class_<GenerateResult> gen(m, "GenerateOutput", "What Glm4v.generate returns.");
  gen.def_readonly("tokens", &GenerateResult::tokens,
                   "new tokens only (the stop token included when hit)")
      .def_readonly("prompt_tokens", &GenerateResult::prompt_tokens)
      .def_readonly("prefill_seconds", &GenerateResult::prefill_seconds)
      .def_readonly("decode_seconds", &GenerateResult::decode_seconds)
      .def_readonly("stop_reason", &GenerateResult::stop_reason,
                    "'stop_id', 'max_new_tokens' or 'callback'");
  add_record_methods(gen, {"tokens", "prompt_tokens", "prefill_seconds", "decode_seconds",
                           "stop_reason"},
                     /*mapping_access=*/true);

  py::class_<Answer> answer(m, "Answer", "What Pipeline.ask (glyph::vlm::ask) returns.");
  answer.def_readonly("text", &Answer::text, "the answer (the stop token left out)")
      .def_readonly("tokens", &Answer::tokens, "new tokens, the stop token included when hit")
      .def_readonly("pages", &Answer::pages)
      .def_readonly("text_tokens", &Answer::text_tokens,
                    "what the context costs fed as text (the tokenizer's count)")
      .def_readonly("visual_tokens", &Answer::visual_tokens, "what it costs as rendered pages")
      .def_readonly("prompt_tokens", &Answer::prompt_tokens, "the whole multimodal prompt")
      .def_readonly("render_seconds", &Answer::render_seconds)
      .def_readonly("prefill_seconds", &Answer::prefill_seconds)
      .def_readonly("decode_seconds", &Answer::decode_seconds)
      .def_readonly("stop_reason", &Answer::stop_reason)
      .def_property_readonly("compression", &Answer::compression,
                             "text tokens per visual token (the paper's rho)");
  add_record_methods(answer,
                     {"text", "tokens", "pages", "text_tokens", "visual_tokens", "prompt_tokens",
                      "render_seconds", "prefill_seconds", "decode_seconds", "stop_reason",
                      "compression"},
                     /*mapping_access=*/true);
  answer.def(
      "summary",
      [](py::handle self) {
        py::dict d = self.attr("to_dict")();
        PyDict_DelItemString(d.ptr(), "tokens");
        return d;
      },
      "The statistics as a dict (every field but the tokens).");
}
