// Glyph end to end in C++: render a long text into pages, prompt GLM-4.1V with them and a
// question (the tokenizer part's GLM-4.1V prompt), generate, and report what it cost.
//
//   glyph::Renderer renderer;                                   // Glyph's config
//   auto tok = glyph::Tokenizer::from_file("/models/Glyph/tokenizer.json");
//   auto model = glyph::vlm::Glm4v::from_pretrained("/models/Glyph", {at::kCPU, at::kBFloat16});
//   glyph::vlm::Answer a = glyph::vlm::ask(renderer, model, tok, long_text, "Who is the wolf?");
//   a.text; a.compression(); a.prefill_seconds;
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "glyph/render/renderer.h"
#include "glyph/tokenizer/tokenizer.h"
#include "glyph/vlm/glm4v.h"

namespace glyph::vlm {

struct Answer {
  std::string text;                  // decoded new tokens (the stop token left out)
  std::vector<std::int64_t> tokens;  // new tokens, the stop token included when hit
  int pages = 0;
  std::int64_t text_tokens = 0;      // what the context costs as text (this tokenizer)
  std::int64_t visual_tokens = 0;    // what it costs as pages
  int prompt_tokens = 0;
  double render_seconds = 0, prefill_seconds = 0, decode_seconds = 0;
  std::string stop_reason;
  double compression() const {
    return visual_tokens ? static_cast<double>(text_tokens) / visual_tokens : 0.0;
  }
};

Answer ask(const Renderer& renderer, const Glm4v& model, const Tokenizer& tokenizer,
           std::string_view long_text, std::string_view question,
           const GenerateOptions& options = {});

}  // namespace glyph::vlm
