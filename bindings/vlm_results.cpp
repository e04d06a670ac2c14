// The VLM's result types (glyph/vlm/results.h: plain data, no torch), bound in glyph._core so
// that glyph.Answer and glyph.GenerateOutput exist without torch; glyph._vlm returns them.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "glyph/common/reasoning.h"
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
                    "'stop_id', 'max_new_tokens' or 'callback'")
      .def_readonly("kv_capacity", &GenerateResult::kv_capacity,
                    "tokens the KV cache was sized for (prompt + max_new_tokens)")
      .def_readonly("kv_reallocations", &GenerateResult::kv_reallocations,
                    "times the cache grew after that (0: sized once)")
      .def_readonly("decode_cuda_graph", &GenerateResult::decode_cuda_graph,
                    "whether the decode steps replayed a captured CUDA graph");
  add_record_methods(gen, {"tokens", "prompt_tokens", "prefill_seconds", "decode_seconds",
                           "stop_reason", "kv_capacity", "kv_reallocations",
                           "decode_cuda_graph"},
                     /*mapping_access=*/true);

  py::class_<DecodeBenchmark> bench(m, "DecodeBenchmark", "What Glm4v.benchmark_decode returns.");
  bench.def_readonly("step_seconds", &DecodeBenchmark::step_seconds, "seconds per decode step")
      .def_readonly("cuda_graph", &DecodeBenchmark::cuda_graph,
                    "whether the timed steps replayed a captured CUDA graph");
  add_record_methods(bench, {"step_seconds", "cuda_graph"}, /*mapping_access=*/true);

  py::class_<Answer> answer(m, "Answer", "What Pipeline.ask (glyph::vlm::ask) returns.");
  answer.def_readonly("text", &Answer::text, "what the model wrote (the stop token left out)")
      .def_readonly("reasoning", &Answer::reasoning,
                    "the <think> part of text, trimmed ('' when the model did not think aloud)")
      .def_readonly("content", &Answer::content,
                    "the answer: text without the reasoning and the <answer> tags, trimmed")
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
                     {"text", "reasoning", "content", "tokens", "pages", "text_tokens", "visual_tokens", "prompt_tokens",
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

  using glyph::ReasoningParser;
  using glyph::ReasoningSplit;
  py::class_<ReasoningSplit> split(m, "ReasoningSplit", "What split_reasoning returns.");
  split.def_readonly("reasoning", &ReasoningSplit::reasoning)
      .def_readonly("content", &ReasoningSplit::content)
      .def_readonly("has_reasoning", &ReasoningSplit::has_reasoning,
                    "the text opened a <think> block")
      .def_readonly("reasoning_done", &ReasoningSplit::reasoning_done, "and closed it");
  add_record_methods(split, {"reasoning", "content", "has_reasoning", "reasoning_done"},
                     /*mapping_access=*/false);
  m.def(
      "split_reasoning",
      [](const std::string& text) { return glyph::split_reasoning(text); }, py::arg("text"),
      "Split GLM-4.1V output into reasoning and answer: reasoning only when the text starts "
      "(after whitespace) with <think>, up to </think> or the end; the rest is the answer with "
      "<answer>/</answer> removed. Both trimmed.");
  py::class_<ReasoningParser>(m, "ReasoningParser",
                              "split_reasoning for streamed text: feed(piece) -> (reasoning, "
                              "content) new text; tags may be cut anywhere; finish() flushes.")
      .def(py::init<>())
      .def(
          "feed",
          [](ReasoningParser& p, const std::string& piece) {
            auto d = p.feed(piece);
            return py::make_tuple(d.reasoning, d.content);
          },
          py::arg("piece"))
      .def("finish",
           [](ReasoningParser& p) {
             auto d = p.finish();
             return py::make_tuple(d.reasoning, d.content);
           })
      .def_property_readonly("in_reasoning", &ReasoningParser::in_reasoning);
}
