// GLM-4.1V chat prompts for rendered pages: what transformers' chat template plus
// Glm4vProcessor produce for one user turn holding the page images and a question.
//
//   std::vector<int> pages = {630, 630, 212};          // Page::visual_tokens of each page
//   std::string p = glyph::build_glm4v_prompt(pages, "Who is the wolf?");
//   // "[gMASK]<sop><|user|>\n<|begin_of_image|><|image|>x630<|end_of_image|>...Who is the wolf?
//   //  <|assistant|>\n"
//   std::vector<std::int32_t> ids = glyph::build_glm4v_prompt_ids(tok, pages, "Who is the wolf?");
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "glyph/tokenizer/tokenizer.h"

namespace glyph {

// The default: transformers' GLM-4.1V chat template for [{"role": "user", "content": [image...,
// text]}] with add_generation_prompt=True, after the processor expands each <|image|> to the
// page's visual-token count.
inline constexpr std::string_view kGlm4vPromptTemplate =
    "[gMASK]<sop><|user|>\n{images}{question}<|assistant|>\n";

// `prompt_template` holds "{images}" (where the pages go, each as <|begin_of_image|> +
// N x <|image|> + <|end_of_image|>) and "{question}" (each at most once; "{{"/"}}" are literal
// braces). Throws InputError for a negative token count or a template without {images}.
std::string build_glm4v_prompt(const std::vector<int>& page_visual_tokens,
                               std::string_view question,
                               std::string_view prompt_template = kGlm4vPromptTemplate);

// The prompt's ids: build_glm4v_prompt() encoded with add_special_tokens=false (the template
// already holds the special tokens). The tokenizer must know the image tokens.
std::vector<std::int32_t> build_glm4v_prompt_ids(
    const Tokenizer& tokenizer, const std::vector<int>& page_visual_tokens,
    std::string_view question, std::string_view prompt_template = kGlm4vPromptTemplate);

}  // namespace glyph
