#include "glyph/tokenizer/prompt.h"

#include "common/check.h"

namespace glyph {

std::string build_glm4v_prompt(const std::vector<int>& page_visual_tokens,
                               std::string_view question, std::string_view prompt_template) {
  std::size_t total = 0;
  for (std::size_t i = 0; i < page_visual_tokens.size(); ++i) {
    GLYPH_CHECK(page_visual_tokens[i] >= 0, InputError,
                "Page {} has a negative visual-token count {}", i, page_visual_tokens[i]);
    total += static_cast<std::size_t>(page_visual_tokens[i]);
  }
  constexpr std::string_view kImage = "<|image|>";
  std::string images;
  images.reserve(total * kImage.size() + page_visual_tokens.size() * 40);
  for (int n : page_visual_tokens) {
    images += "<|begin_of_image|>";
    for (int k = 0; k < n; ++k) images += kImage;
    images += "<|end_of_image|>";
  }

  std::string out;
  out.reserve(prompt_template.size() + images.size() + question.size());
  bool saw_images = false, saw_question = false;
  for (std::size_t i = 0; i < prompt_template.size(); ++i) {
    char c = prompt_template[i];
    if ((c == '{' || c == '}') && i + 1 < prompt_template.size() && prompt_template[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c == '{') {
      std::size_t close = prompt_template.find('}', i);
      GLYPH_CHECK(close != std::string_view::npos, InputError,
                  "Prompt template has an unclosed '{{' at {}: {}", i, prompt_template);
      std::string_view name = prompt_template.substr(i + 1, close - i - 1);
      if (name == "images") {
        GLYPH_CHECK(!saw_images, InputError, "Prompt template holds {{images}} twice");
        saw_images = true;
        out += images;
      } else if (name == "question") {
        GLYPH_CHECK(!saw_question, InputError, "Prompt template holds {{question}} twice");
        saw_question = true;
        out.append(question);
      } else {
        GLYPH_THROW(InputError,
                    "Prompt template placeholder {{{}}} is unknown (use {{images}} and "
                    "{{question}})",
                    name);
      }
      i = close;
      continue;
    }
    out += c;
  }
  GLYPH_CHECK(saw_images, InputError, "Prompt template has no {{images}} placeholder: {}",
              prompt_template);
  return out;
}

std::vector<std::int32_t> build_glm4v_prompt_ids(const Tokenizer& tokenizer,
                                                 const std::vector<int>& page_visual_tokens,
                                                 std::string_view question,
                                                 std::string_view prompt_template) {
  for (const char* t : {"<|begin_of_image|>", "<|image|>", "<|end_of_image|>"}) {
    GLYPH_CHECK(tokenizer.token_to_id(t).has_value(), TokenizerError,
                "The tokenizer has no '{}' token; it is not a GLM-4.1V tokenizer", t);
  }
  return tokenizer.encode(build_glm4v_prompt(page_visual_tokens, question, prompt_template),
                          /*add_special_tokens=*/false);
}

}  // namespace glyph
