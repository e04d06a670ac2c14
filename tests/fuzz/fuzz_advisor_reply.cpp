// The LLM advisor's reply parser: any text, never a throw, every candidate feasible on the space.
#include <string>

#include "fuzz_common.h"
#include "glyph/search/search.h"
#include "glyph/search/space.h"

namespace {
// The space of docs/search.md's examples: ranges, a relative range, choices, a grouped choice and
// a constraint (no fonts, so nothing touches the file system).
const char* kSpace = R"({
  "genes": [
    {"name": "margin-x", "min": 0, "max": 40, "step": 2},
    {"name": "margin-y", "min": 0, "max": 40, "step": 2},
    {"name": "font-size", "choices": [7, 8, 9, 10, 11, 12]},
    {"name": "line-height", "min": 0, "max": 3, "step": 0.5, "relative-to": "font-size"},
    {"name": "alignment", "choices": ["LEFT", "JUSTIFY"]},
    {"name": "theme", "labels": ["light", "dark"],
     "choices": [{"page-bg-color": "#FFFFFF", "font-color": "#000000"},
                 {"page-bg-color": "#000000", "font-color": "#FFFFFF"}]}
  ],
  "constraints": [{"lhs": "line-height", "op": ">=", "rhs": "font-size", "offset": 1}]
})";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const glyph::SearchSpace space = glyph::SearchSpace::from_json(kSpace);
  static const glyph::Genome fallback = {5, 10, 2, 2, 1, 0};
  const std::string reply(reinterpret_cast<const char*>(data), size);
  const int max_candidates = size > 0 ? 1 + data[0] % 8 : 4;
  glyph::AdvisorReply r;
  try {
    r = glyph::parse_advisor_reply(reply, space, fallback, max_candidates);
  } catch (const std::exception& e) {
    FUZZ_FAIL("parse_advisor_reply threw (it promises never to): %s", e.what());
  }
  FUZZ_EXPECT(static_cast<int>(r.candidates.size()) <= max_candidates, "%zu candidates",
              r.candidates.size());
  for (const auto& g : r.candidates) {
    std::string why;
    FUZZ_EXPECT(space.feasible(g, &why), "infeasible candidate returned: %s", why.c_str());
    glyph::RenderConfig c;
    FUZZ_EXPECT(glyph_fuzz::accepts([&] { c = space.decode(g); }), "decode refused a candidate");
  }
  FUZZ_EXPECT(r.analysis.size() <= 4100, "analysis of %zu bytes", r.analysis.size());
  return 0;
}
