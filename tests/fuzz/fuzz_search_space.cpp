// Search-space JSON: load; for every space that loads, the JSON round trip, cardinality, and
// sample/decode/encode/feasible on a few genomes.
#include <cmath>
#include <random>
#include <string>

#include "fuzz_common.h"
#include "glyph/search/space.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  glyph::SearchSpace space;
  if (!glyph_fuzz::accepts([&] { space = glyph::SearchSpace::from_json(text, "/glyph-fuzz-base"); }))
    return 0;
  const double card = space.cardinality();
  FUZZ_EXPECT(card >= 1 && !std::isnan(card), "cardinality %g", card);
  std::string saved;
  FUZZ_EXPECT(glyph_fuzz::accepts([&] { saved = space.to_json(); }), "to_json refused");
  glyph::SearchSpace again;
  FUZZ_EXPECT(glyph_fuzz::accepts([&] { again = glyph::SearchSpace::from_json(saved); }),
              "from_json refused what to_json wrote: %s", saved.c_str());
  FUZZ_EXPECT(again.to_json() == saved, "round trip changed the space:\n%s\n%s", saved.c_str(),
              again.to_json().c_str());
  FUZZ_EXPECT(again.genes().size() == space.genes().size(), "gene count changed");
  for (std::size_t i = 0; i < space.genes().size(); ++i) {
    const int n = space.genes()[i].size();
    FUZZ_EXPECT(n >= 1, "gene %s has %d options", space.genes()[i].name.c_str(), n);
  }
  // A bounded number of genomes: the first, the last and a few seeded samples.
  std::mt19937_64 rng(size);
  glyph::Genome first(space.genes().size(), 0), last;
  for (const auto& g : space.genes()) last.push_back(g.size() - 1);
  for (const glyph::Genome& g : {first, last}) {
    std::string why;
    bool ok = false;
    FUZZ_EXPECT(glyph_fuzz::accepts([&] { ok = space.feasible(g, &why); }), "feasible refused");
    glyph::RenderConfig c;
    if (glyph_fuzz::accepts([&] { c = space.decode(g); }) && ok) {
      glyph::Genome back;
      FUZZ_EXPECT(glyph_fuzz::accepts([&] { back = space.encode(c); }), "encode refused decode()");
      FUZZ_EXPECT(back.size() == g.size(), "encode gave %zu genes", back.size());
    }
    (void)glyph_fuzz::accepts([&] { (void)space.describe(g); });
  }
  glyph::Genome s;
  if (glyph_fuzz::accepts([&] { s = space.sample(rng); })) {
    FUZZ_EXPECT(space.feasible(s), "sample() returned an infeasible genome");
  }
  return 0;
}
