// Glyph end to end in C++: render a long text into pages, prompt GLM-4.1V with them and a
// question, generate, and report what it cost.
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
#include "glyph/tokenizer/codec.h"
#include "glyph/tokenizer/prompt.h"
#include "glyph/vlm/glm4v.h"
#include "glyph/vlm/results.h"

namespace glyph::vlm {

// The GLM-4.1V prompt for pages of `tokens_per_image` visual tokens and a question: the
// template's text through `codec`, the pages' markup by the ids in the model's config.
std::vector<std::int64_t> prompt_ids(const Glm4v& model, const TextCodec& codec,
                                     const std::vector<int>& tokens_per_image,
                                     std::string_view question,
                                     std::string_view prompt_template = kGlm4vPromptTemplate);

// Renders `long_text`, prompts the model with its pages and `question`, generates. Text tokens
// are counted with `codec`; the answer is decoded with it (special tokens left out).
Answer ask(const Renderer& renderer, const Glm4v& model, const TextCodec& codec,
           std::string_view long_text, std::string_view question,
           const GenerateOptions& options = {},
           std::string_view prompt_template = kGlm4vPromptTemplate);
Answer ask(const Renderer& renderer, const Glm4v& model, const Tokenizer& tokenizer,
           std::string_view long_text, std::string_view question,
           const GenerateOptions& options = {},
           std::string_view prompt_template = kGlm4vPromptTemplate);

}  // namespace glyph::vlm
