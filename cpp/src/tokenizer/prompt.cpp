#include "glyph/tokenizer/prompt.h"

#include "common/check.h"

namespace glyph {

namespace {

constexpr std::string_view kBegin = "<|begin_of_image|>";
constexpr std::string_view kImage = "<|image|>";
constexpr std::string_view kEnd = "<|end_of_image|>";

// A prompt template as literal text, {images} and {question}, in order.
struct Piece {
  enum class Kind { kText, kImages, kQuestion };
  Kind kind;
  std::string text;  // kText
};

std::vector<Piece> parse_template(std::string_view t) {
  std::vector<Piece> pieces;
  std::string text;
  bool saw_images = false, saw_question = false;
  auto flush = [&] {
    if (!text.empty()) pieces.push_back({Piece::Kind::kText, std::move(text)});
    text.clear();
  };
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if ((c == '{' || c == '}') && i + 1 < t.size() && t[i + 1] == c) {
      text += c;
      ++i;
      continue;
    }
    if (c != '{') {
      text += c;
      continue;
    }
    const std::size_t close = t.find('}', i);
    GLYPH_CHECK(close != std::string_view::npos, InputError,
                "Prompt template has an unclosed '{{' at {}: {}", i, t);
    const std::string_view name = t.substr(i + 1, close - i - 1);
    flush();
    if (name == "images") {
      GLYPH_CHECK(!saw_images, InputError, "Prompt template holds {{images}} twice");
      saw_images = true;
      pieces.push_back({Piece::Kind::kImages, {}});
    } else if (name == "question") {
      GLYPH_CHECK(!saw_question, InputError, "Prompt template holds {{question}} twice");
      saw_question = true;
      pieces.push_back({Piece::Kind::kQuestion, {}});
    } else {
      GLYPH_THROW(InputError,
                  "Prompt template placeholder {{{}}} is unknown (use {{images}} and "
                  "{{question}})",
                  name);
    }
    i = close;
  }
  flush();
  GLYPH_CHECK(saw_images, InputError, "Prompt template has no {{images}} placeholder: {}", t);
  return pieces;
}

std::size_t total_tokens(const std::vector<int>& page_visual_tokens) {
  std::size_t total = 0;
  for (std::size_t i = 0; i < page_visual_tokens.size(); ++i) {
    GLYPH_CHECK(page_visual_tokens[i] >= 0, InputError,
                "Page {} has a negative visual-token count {}", i, page_visual_tokens[i]);
    total += static_cast<std::size_t>(page_visual_tokens[i]);
  }
  return total;
}

std::int32_t required_token(const TextCodec& codec, std::string_view token) {
  const std::optional<std::int32_t> id = codec.token_to_id(token);
  GLYPH_CHECK(id.has_value(), TokenizerError,
              "The tokenizer has no '{}' token; it is not a GLM-4.1V tokenizer", token);
  return *id;
}

}  // namespace

std::string glm4v_prompt(const std::vector<int>& page_visual_tokens, std::string_view question,
                         std::string_view prompt_template) {
  const std::size_t total = total_tokens(page_visual_tokens);
  const std::vector<Piece> pieces = parse_template(prompt_template);
  std::string out;
  out.reserve(prompt_template.size() + question.size() + total * kImage.size() +
              page_visual_tokens.size() * (kBegin.size() + kEnd.size()));
  for (const Piece& p : pieces) {
    switch (p.kind) {
      case Piece::Kind::kText: out += p.text; break;
      case Piece::Kind::kQuestion: out.append(question); break;
      case Piece::Kind::kImages:
        for (int n : page_visual_tokens) {
          out += kBegin;
          for (int k = 0; k < n; ++k) out += kImage;
          out += kEnd;
        }
        break;
    }
  }
  return out;
}

std::vector<std::int32_t> glm4v_prompt_ids(const TextCodec& codec,
                                           const std::vector<int>& page_visual_tokens,
                                           std::string_view question,
                                           std::string_view prompt_template,
                                           std::optional<ImageTokenIds> image_ids) {
  const std::size_t total = total_tokens(page_visual_tokens);
  const std::vector<Piece> pieces = parse_template(prompt_template);
  if (!image_ids)
    image_ids = ImageTokenIds{required_token(codec, kBegin), required_token(codec, kImage),
                              required_token(codec, kEnd)};
  std::vector<std::int32_t> ids;
  ids.reserve(total + 2 * page_visual_tokens.size() + 64);
  // Text between two image runs is encoded as one piece (the question joins the template text
  // around it), exactly the segments an added-token-aware tokenizer makes of the whole string.
  std::string text;
  auto flush = [&] {
    if (text.empty()) return;
    const std::vector<std::int32_t> t = codec.encode(text);
    ids.insert(ids.end(), t.begin(), t.end());
    text.clear();
  };
  for (const Piece& p : pieces) {
    if (p.kind == Piece::Kind::kText) {
      text += p.text;
    } else if (p.kind == Piece::Kind::kQuestion) {
      text.append(question);
    } else if (!page_visual_tokens.empty()) {
      flush();
      for (int n : page_visual_tokens) {
        ids.push_back(image_ids->begin);
        ids.insert(ids.end(), static_cast<std::size_t>(n), image_ids->image);
        ids.push_back(image_ids->end);
      }
    }
  }
  flush();
  return ids;
}

std::vector<std::int32_t> glm4v_prompt_ids(const Tokenizer& tokenizer,
                                           const std::vector<int>& page_visual_tokens,
                                           std::string_view question,
                                           std::string_view prompt_template) {
  return glm4v_prompt_ids(TokenizerCodec(tokenizer), page_visual_tokens, question,
                          prompt_template);
}

}  // namespace glyph
