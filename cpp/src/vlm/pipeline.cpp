#include "glyph/vlm/pipeline.h"

#include <chrono>

#include "glyph/tokenizer/prompt.h"

namespace glyph::vlm {

Answer ask(const Renderer& renderer, const Glm4v& model, const Tokenizer& tokenizer,
           std::string_view long_text, std::string_view question, const GenerateOptions& options) {
  using clock = std::chrono::steady_clock;
  Answer a;
  auto t0 = clock::now();
  RenderResult pages = renderer.render(long_text);
  a.render_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  a.pages = static_cast<int>(pages.pages.size());

  std::vector<ImageView> views;
  for (const auto& p : pages.pages) views.push_back(view_of(p));
  ImageBatch images;
  if (!views.empty()) images = model.image_processor().process(views);
  for (int n : images.tokens_per_image) a.visual_tokens += n;

  std::vector<std::int32_t> ids32 =
      build_glm4v_prompt_ids(tokenizer, images.tokens_per_image, question);
  std::vector<std::int64_t> ids(ids32.begin(), ids32.end());
  GenerateResult r = model.generate(ids, views.empty() ? nullptr : &images, options);
  a.tokens = r.tokens;
  a.prompt_tokens = r.prompt_tokens;
  a.prefill_seconds = r.prefill_seconds;
  a.decode_seconds = r.decode_seconds;
  a.stop_reason = r.stop_reason;
  std::vector<std::int32_t> answer(r.tokens.begin(), r.tokens.end());
  if (r.stop_reason == "stop_id" && !answer.empty()) answer.pop_back();
  a.text = tokenizer.decode(answer, /*skip_special_tokens=*/true);
  a.text_tokens = static_cast<std::int64_t>(tokenizer.count(long_text));
  return a;
}

}  // namespace glyph::vlm
