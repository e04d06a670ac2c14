// GLM-4.1V chat prompts for rendered pages: what transformers' chat template plus
// Glm4vProcessor produce for one user turn holding the page images and a question.
//
//   std::vector<int> pages = {630, 630, 212};          // Page::visual_tokens of each page
//   std::string p = glyph::glm4v_prompt(pages, "Who is the wolf?");
//   // "[gMASK]<sop><|user|>\n<|begin_of_image|><|image|>x630<|end_of_image|>...Who is the wolf?
//   //  <|assistant|>\n"
//   std::vector<std::int32_t> ids = glyph::glm4v_prompt_ids(tok, pages, "Who is the wolf?");
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "glyph/tokenizer/codec.h"
#include "glyph/tokenizer/tokenizer.h"

namespace glyph {

// The default: transformers' GLM-4.1V chat template for [{"role": "user", "content": [image...,
// text]}] with add_generation_prompt=True, after the processor expands each <|image|> to the
// page's visual-token count.
inline constexpr std::string_view kGlm4vPromptTemplate =
    "[gMASK]<sop><|user|>\n{images}{question}<|assistant|>\n";

// The ids of GLM-4.1V's image markup: each page enters as begin + N x image + end.
struct ImageTokenIds {
  std::int32_t begin = 151339;  // <|begin_of_image|>
  std::int32_t image = 151343;  // <|image|>
  std::int32_t end = 151340;    // <|end_of_image|>
};

// `prompt_template` holds "{images}" (where the pages go, each as <|begin_of_image|> +
// N x <|image|> + <|end_of_image|>) and "{question}" (each at most once; "{{"/"}}" are literal
// braces). Throws InputError for a negative token count or a template without {images}.
std::string glm4v_prompt(const std::vector<int>& page_visual_tokens, std::string_view question,
                         std::string_view prompt_template = kGlm4vPromptTemplate);

// The prompt's ids: the template's text (with the question) encoded by `codec`, the pages'
// markup inserted by id. With `image_ids` (a model's config says which) any tokenizer works;
// without, the codec must know GLM-4.1V's image tokens (TokenizerError otherwise). The same ids
// as encoding glm4v_prompt()'s string with a GLM-4.1V tokenizer, without building that string.
std::vector<std::int32_t> glm4v_prompt_ids(const TextCodec& codec,
                                           const std::vector<int>& page_visual_tokens,
                                           std::string_view question,
                                           std::string_view prompt_template = kGlm4vPromptTemplate,
                                           std::optional<ImageTokenIds> image_ids = std::nullopt);
std::vector<std::int32_t> glm4v_prompt_ids(const Tokenizer& tokenizer,
                                           const std::vector<int>& page_visual_tokens,
                                           std::string_view question,
                                           std::string_view prompt_template = kGlm4vPromptTemplate);

// The names before 0.2 (removed in 0.3).
[[deprecated("use glm4v_prompt")]] inline std::string build_glm4v_prompt(
    const std::vector<int>& page_visual_tokens, std::string_view question,
    std::string_view prompt_template = kGlm4vPromptTemplate) {
  return glm4v_prompt(page_visual_tokens, question, prompt_template);
}
[[deprecated("use glm4v_prompt_ids")]] inline std::vector<std::int32_t> build_glm4v_prompt_ids(
    const Tokenizer& tokenizer, const std::vector<int>& page_visual_tokens,
    std::string_view question, std::string_view prompt_template = kGlm4vPromptTemplate) {
  return glm4v_prompt_ids(tokenizer, page_visual_tokens, question, prompt_template);
}

}  // namespace glyph
