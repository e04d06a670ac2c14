// Fitness by rendering: compression from the renderer and a token counter, accuracy from the
// user's evaluator; plus the character-accuracy metric the OCR evaluator uses.
#include <algorithm>
#include <cmath>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/check.h"
#include "glyph/common/utf8.h"
#include "glyph/render/renderer.h"
#include "glyph/search/search.h"

using json = nlohmann::ordered_json;

namespace glyph {

std::int64_t approx_text_tokens(const std::string& utf8) {
  // GLM-4's BPE averages ~4 characters per token on English prose and ~1.5 CJK characters per
  // token; good to ~15% on prose, worse on code and numbers. Only an approximation.
  std::u32string cps = decode_utf8(utf8).codepoints;
  double other = 0, cjk = 0;
  for (char32_t c : cps) {
    if ((c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
        (c >= 0x3040 && c <= 0x30FF) || (c >= 0xAC00 && c <= 0xD7AF))
      cjk += 1;
    else
      other += 1;
  }
  return static_cast<std::int64_t>(std::ceil(other / 4.0 + cjk / 1.5));
}

FitnessFn make_render_fitness(std::vector<Sample> samples, Evaluator evaluator,
                              TextTokenCounter count_text_tokens) {
  GLYPH_CHECK(!samples.empty(), SearchError, "render fitness: no validation samples");
  GLYPH_CHECK(static_cast<bool>(evaluator), SearchError, "render fitness: no evaluator");
  GLYPH_CHECK(static_cast<bool>(count_text_tokens), SearchError,
              "render fitness: no text-token counter");
  for (std::size_t i = 0; i < samples.size(); ++i) samples[i].index = i;
  auto tokens = std::make_shared<std::vector<std::int64_t>>();
  for (const auto& s : samples) {
    std::int64_t n = count_text_tokens(s.text);
    GLYPH_CHECK(n >= 0, SearchError, "text-token counter returned {} for sample '{}'", n, s.id);
    tokens->push_back(n);
  }
  auto shared = std::make_shared<std::vector<Sample>>(std::move(samples));
  return [shared, tokens, evaluator = std::move(evaluator)](const RenderConfig& config) {
    Renderer renderer(config);
    double acc_sum = 0;
    std::int64_t text_tokens = 0, visual_tokens = 0;
    json per_sample = json::array();
    for (std::size_t i = 0; i < shared->size(); ++i) {
      const Sample& s = (*shared)[i];
      RenderResult r = renderer.render(s.text);
      double acc = evaluator(config, r.pages, s);
      GLYPH_CHECK(std::isfinite(acc), SearchError, "evaluator returned {} for sample '{}'", acc,
                  s.id);
      acc_sum += acc;
      text_tokens += (*tokens)[i];
      visual_tokens += r.stats.visual_tokens;
      per_sample.push_back({{"id", s.id},
                            {"accuracy", acc},
                            {"pages", r.pages.size()},
                            {"text_tokens", (*tokens)[i]},
                            {"visual_tokens", r.stats.visual_tokens}});
    }
    GLYPH_CHECK(visual_tokens > 0, SearchError, "rendering produced no visual tokens");
    Scores sc;
    sc.accuracy = acc_sum / static_cast<double>(shared->size());
    sc.compression = static_cast<double>(text_tokens) / static_cast<double>(visual_tokens);
    sc.details = json{{"text_tokens", text_tokens},
                      {"visual_tokens", visual_tokens},
                      {"samples", per_sample}}
                     .dump();
    return sc;
  };
}

std::size_t edit_distance(const std::u32string& a, const std::u32string& b) {
  const std::u32string& s = a.size() < b.size() ? b : a;
  const std::u32string& t = a.size() < b.size() ? a : b;  // the shorter one sizes the rows
  std::vector<std::size_t> prev(t.size() + 1), cur(t.size() + 1);
  for (std::size_t j = 0; j <= t.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= s.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= t.size(); ++j) {
      std::size_t sub = prev[j - 1] + (s[i - 1] == t[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[t.size()];
}

double char_accuracy(const std::string& hypothesis_utf8, const std::string& reference_utf8) {
  std::u32string h = decode_utf8(hypothesis_utf8).codepoints;
  std::u32string r = decode_utf8(reference_utf8).codepoints;
  if (r.empty()) return h.empty() ? 1.0 : 0.0;
  double d = static_cast<double>(edit_distance(h, r));
  return std::clamp(1.0 - d / static_cast<double>(r.size()), 0.0, 1.0);
}

}  // namespace glyph
