#include "glyph/vlm/pipeline.h"

#include <chrono>

#include "glyph/common/reasoning.h"

namespace glyph::vlm {

std::vector<std::int64_t> prompt_ids(const Glm4v& model, const TextCodec& codec,
                                     const std::vector<int>& tokens_per_image,
                                     std::string_view question,
                                     std::string_view prompt_template) {
  const Glm4vConfig& c = model.config();
  const ImageTokenIds image_ids{static_cast<std::int32_t>(c.image_start_token_id),
                                static_cast<std::int32_t>(c.image_token_id),
                                static_cast<std::int32_t>(c.image_end_token_id)};
  const std::vector<std::int32_t> ids =
      glm4v_prompt_ids(codec, tokens_per_image, question, prompt_template, image_ids);
  return {ids.begin(), ids.end()};
}

Answer ask(const Renderer& renderer, const Glm4v& model, const TextCodec& codec,
           std::string_view long_text, std::string_view question, const GenerateOptions& options,
           std::string_view prompt_template) {
  using clock = std::chrono::steady_clock;
  Answer a;
  auto t0 = clock::now();
  RenderResult pages = renderer.render(long_text);
  a.render_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  a.pages = static_cast<int>(pages.pages.size());

  std::vector<ImageView> views;
  for (const auto& p : pages.pages) views.push_back(view_of(p));
  ImageBatch images;
  if (!views.empty()) images = model.process_images(views);
  for (int n : images.tokens_per_image) a.visual_tokens += n;

  const std::vector<std::int64_t> ids =
      prompt_ids(model, codec, images.tokens_per_image, question, prompt_template);
  GenerateResult r = model.generate(ids, views.empty() ? nullptr : &images, options);
  a.tokens = r.tokens;
  a.prompt_tokens = r.prompt_tokens;
  a.prefill_seconds = r.prefill_seconds;
  a.decode_seconds = r.decode_seconds;
  a.stop_reason = r.stop_reason;
  std::vector<std::int32_t> answer(r.tokens.begin(), r.tokens.end());
  if (r.stop_reason == "stop_id" && !answer.empty()) answer.pop_back();
  a.text = codec.decode(answer);
  ReasoningSplit split = split_reasoning(a.text);
  a.reasoning = std::move(split.reasoning);
  a.content = std::move(split.content);
  a.text_tokens = static_cast<std::int64_t>(codec.count(long_text));
  return a;
}

Answer ask(const Renderer& renderer, const Glm4v& model, const Tokenizer& tokenizer,
           std::string_view long_text, std::string_view question, const GenerateOptions& options,
           std::string_view prompt_template) {
  return ask(renderer, model, TokenizerCodec(tokenizer), long_text, question, options,
             prompt_template);
}

}  // namespace glyph::vlm
