// ConfigSearch: space rules, convergence on synthetic objectives with known optima, constraints,
// determinism, resume equivalence, failures and the advisor's parser.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "glyph/glyph.h"

using namespace glyph;
namespace fs = std::filesystem;

namespace {

// Three range genes on numeric keys plus a choice: the synthetic objectives below read them back.
const char* kSpaceJson = R"({
  "genes": [
    {"name": "margin-x", "min": 0, "max": 40, "step": 2},
    {"name": "margin-y", "min": 0, "max": 40, "step": 2},
    {"name": "font-size", "choices": [7, 8, 9, 10, 11, 12]},
    {"name": "line-height", "min": 0, "max": 3, "step": 1, "relative-to": "font-size"},
    {"name": "alignment", "choices": ["LEFT", "JUSTIFY"]}
  ],
  "constraints": [{"lhs": "line-height", "op": ">=", "rhs": "font-size", "offset": 1}]
})";

SearchSpace test_space() { return SearchSpace::from_json(kSpaceJson); }

double num(const RenderConfig& c, const char* k) { return config_number(c, k); }

std::string temp_path(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "glyph_test_search";
  fs::create_directories(dir);
  fs::path p = dir / name;
  fs::remove(p);
  return p.string();
}

std::vector<std::pair<Genome, double>> trace(const SearchResult& r) {
  std::vector<std::pair<Genome, double>> out;
  for (const auto& ind : r.evaluated) out.emplace_back(ind.genome, ind.scores.accuracy);
  return out;
}

}  // namespace

TEST_CASE("search space: decode, encode, constraints, JSON", "[search]") {
  SearchSpace s = test_space();
  REQUIRE(s.genes().size() == 5);
  CHECK(s.cardinality() == Approx(21 * 21 * 6 * 4 * 2));

  Genome g = {5, 10, 2, 2, 1};  // margin-x 10, margin-y 20, 9 pt, leading 11, JUSTIFY
  RenderConfig c = s.decode(g);
  CHECK(c.margin_x == 10);
  CHECK(c.margin_y == 20);
  CHECK(c.font_size == 9);
  CHECK(c.leading() == 11);
  CHECK(c.alignment == Alignment::kJustify);
  CHECK(s.encode(c) == g);

  std::string why;
  CHECK(s.feasible(g, &why));
  CHECK_FALSE(s.feasible({5, 10, 2, 0, 1}, &why));  // leading 9 < 9 + 1
  CHECK(why.find("line-height >= font-size") != std::string::npos);
  CHECK_FALSE(s.feasible({99, 10, 2, 2, 1}, &why));
  CHECK(why.find("margin-x") != std::string::npos);

  // Off-grid values project to the nearest point, with a note.
  c.margin_x = 11.2;
  std::vector<std::string> notes;
  CHECK(s.encode(c, &notes)[0] == 6);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].find("margin-x") != std::string::npos);

  SearchSpace back = SearchSpace::from_json(s.to_json());
  CHECK(back.to_json() == s.to_json());

  CHECK_THROWS_WITH(SearchSpace::from_json(R"({"genes": [{"name": "dpi", "min": 5, "max": 1}]})"),
                    Catch::Contains("dpi"));
  CHECK_THROWS_WITH(SearchSpace::from_json(R"({"genes": [{"name": "colour", "choices": [1]}]})"),
                    Catch::Contains("colour"));
  CHECK_THROWS_WITH(
      SearchSpace::from_json(R"({"genes": [{"name": "dpi", "choices": [72]}],
                                 "constraints": [{"lhs": "nope", "op": ">=", "rhs": "1"}]})"),
      Catch::Contains("nope"));
}

TEST_CASE("search options out of range are refused, naming the option", "[search]") {
  const auto refused = [](auto change, const char* name) {
    SearchOptions o;
    change(o);
    CHECK_THROWS_WITH(ConfigSearch(test_space(), o), Catch::Contains(name));
  };
  refused([](SearchOptions& o) { o.population = 1; }, "population");
  refused([](SearchOptions& o) { o.generations = 0; }, "generations");
  refused([](SearchOptions& o) { o.budget = -1; }, "budget");
  refused([](SearchOptions& o) { o.patience = -1; }, "patience");
  refused([](SearchOptions& o) { o.threads = -2; }, "threads");
  refused([](SearchOptions& o) { o.objective = "speed"; }, "objective");
  SearchOptions ok;
  ok.threads = 0;  // all cores
  ok.patience = 0;  // never stop early
  CHECK_NOTHROW(ConfigSearch(test_space(), ok));
}

TEST_CASE("built-in space: every draw is feasible and decodes to a valid config", "[search]") {
  SearchSpace s = SearchSpace::builtin();
  std::mt19937_64 rng(7);
  for (int i = 0; i < 50; ++i) {
    Genome g = s.sample(rng);
    REQUIRE(s.feasible(g));
    RenderConfig c = s.decode(g);
    CHECK_NOTHROW(c.validate());
    CHECK(c.leading() >= c.font_size);
    CHECK(c.font_size * c.dpi / 72 >= 5);
  }
  // Glyph's own config projects onto the space (only the font moves).
  std::vector<std::string> notes;
  Genome g = s.encode(RenderConfig::glyph_default(), &notes);
  RenderConfig c = s.decode(g);
  CHECK(c.font_size == 9);
  CHECK(c.leading() == 10);
  CHECK(c.dpi == 72);
  CHECK(c.alignment == Alignment::kLeft);
}

TEST_CASE("single objective: converges to the known optimum", "[search]") {
  // Optimum: margin-x 26, margin-y 8, font-size 11, leading 13 (font + 2), LEFT.
  FitnessFn f = [](const RenderConfig& c) {
    Scores s;
    s.accuracy = -std::pow(num(c, "margin-x") - 26, 2) - std::pow(num(c, "margin-y") - 8, 2) -
                 10 * std::pow(c.font_size - 11, 2) - 10 * std::pow(c.leading() - c.font_size - 2, 2) -
                 (c.alignment == Alignment::kLeft ? 0 : 5);
    s.compression = 1;
    return s;
  };
  SearchOptions o;
  o.objective = "accuracy";
  o.population = 16;
  o.generations = 40;
  o.patience = 10;
  o.seed = 3;
  SearchResult r = ConfigSearch(test_space(), o).run(f);
  REQUIRE(r.best);
  CHECK(r.best->scores.accuracy == 0);
  RenderConfig best = r.best_config();
  CHECK(best.margin_x == 26);
  CHECK(best.margin_y == 8);
  CHECK(best.font_size == 11);
  CHECK(best.leading() == 13);
  // Far fewer evaluations than the 21*21*6*4*2 = 21168 configs.
  CHECK(r.evaluated.size() <= 640);
}

TEST_CASE("two objectives: the front is the known trade-off curve", "[search]") {
  // accuracy falls and compression rises with margin-x; margin-y only hurts both. The true front is
  // margin-y = 0 with every margin-x value (21 points).
  FitnessFn f = [](const RenderConfig& c) {
    double x = num(c, "margin-x") / 40, y = num(c, "margin-y") / 40;
    Scores s;
    s.accuracy = 1 - x * x - y;
    s.compression = 1 - (1 - x) * (1 - x) - y;
    return s;
  };
  SearchOptions o;
  o.population = 24;
  o.generations = 40;
  o.patience = 0;
  o.seed = 1;
  SearchResult r = ConfigSearch(test_space(), o).run(f);
  // Configs with equal scores (other genes differ) may share a point of the front.
  std::set<double> xs;
  for (const auto& ind : r.front) xs.insert(r.space.decode(ind.genome).margin_x);
  CHECK(xs.size() >= 15);
  double lo = 1e9, hi = -1e9;
  for (const auto& ind : r.front) {
    RenderConfig c = r.space.decode(ind.genome);
    CHECK(c.margin_y == 0);
    lo = std::min(lo, c.margin_x);
    hi = std::max(hi, c.margin_x);
  }
  CHECK(lo == 0);
  CHECK(hi == 40);
  // Front is sorted by compression and non-dominated.
  for (std::size_t i = 1; i < r.front.size(); ++i) {
    CHECK(r.front[i].scores.compression >= r.front[i - 1].scores.compression);
    CHECK(r.front[i].scores.accuracy <= r.front[i - 1].scores.accuracy);
  }
}

TEST_CASE("constraint: the most compressing config that meets the minimum accuracy", "[search]") {
  // accuracy = 1 - margin-x / 40, compression = margin-x; accuracy >= 0.6 -> margin-x <= 16.
  FitnessFn f = [](const RenderConfig& c) {
    Scores s;
    s.accuracy = 1 - num(c, "margin-x") / 40 - num(c, "margin-y") / 400;
    s.compression = num(c, "margin-x") - num(c, "margin-y") / 40;
    return s;
  };
  SearchOptions o;
  o.min_accuracy = 0.6;
  o.population = 16;
  o.generations = 30;
  o.seed = 11;
  SearchResult r = ConfigSearch(test_space(), o).run(f);
  REQUIRE(r.best);
  CHECK(r.best->scores.accuracy >= 0.6);
  RenderConfig best = r.best_config();
  CHECK(best.margin_x == 16);
  CHECK(best.margin_y == 0);
  for (const auto& ind : r.front) CHECK(ind.scores.accuracy >= 0.6);
  // Infeasible genomes never reach the fitness function.
  for (const auto& ind : r.evaluated) CHECK(r.space.feasible(ind.genome));

  // An unreachable constraint: nothing feasible, and best_config says so.
  o.min_accuracy = 2.0;
  o.generations = 3;
  SearchResult none = ConfigSearch(test_space(), o).run(f);
  CHECK_FALSE(none.best);
  CHECK(none.front.empty());
  CHECK_THROWS_AS(none.best_config(), SearchError);
}

TEST_CASE("deterministic for a seed, whatever the thread count", "[search]") {
  FitnessFn f = [](const RenderConfig& c) {
    Scores s;
    s.accuracy = std::sin(num(c, "margin-x")) + c.font_size / 10;
    s.compression = std::cos(num(c, "margin-y")) + c.leading();
    return s;
  };
  SearchOptions o;
  o.population = 10;
  o.generations = 6;
  o.patience = 0;
  o.seed = 42;
  auto a = ConfigSearch(test_space(), o).run(f);
  o.threads = 3;
  auto b = ConfigSearch(test_space(), o).run(f);
  CHECK(trace(a) == trace(b));
  o.seed = 43;
  auto c = ConfigSearch(test_space(), o).run(f);
  CHECK(trace(a) != trace(c));
}

TEST_CASE("resume from the log ends exactly as the uninterrupted run", "[search]") {
  std::atomic<int> calls{0};
  FitnessFn f = [&](const RenderConfig& c) {
    ++calls;
    if (c.font_size == 7 && c.margin_x == 0) throw InputError("synthetic failure");
    Scores s;
    s.accuracy = 1 - num(c, "margin-x") / 40 + c.font_size / 100;
    s.compression = num(c, "margin-y") / 10 + (c.alignment == Alignment::kLeft ? 0.05 : 0);
    return s;
  };
  // The advisor's replies are logged and replayed, not asked again.
  int advice = 0;
  Advisor advisor = [&](const std::string& prompt) {
    ++advice;
    std::size_t at = prompt.find("Generation ");
    int gen = std::stoi(prompt.substr(at + 11));
    return std::string(R"({"analysis": "try wide margins", "candidates": [{"margin-y": )") +
           std::to_string(2 * (gen % 20)) + "}]}";
  };
  SearchOptions o;
  o.population = 8;
  o.generations = 8;
  o.patience = 0;
  o.seed = 5;
  ConfigSearch search(test_space(), o);
  search.add_seed(test_space().decode({0, 0, 2, 1, 0}));

  const std::string full_log = temp_path("full.jsonl");
  SearchResult full = search.run(f, advisor, full_log);
  const int full_calls = calls.exchange(0);
  const int full_advice = advice;

  // Interrupted after 30 evaluations (a KeyboardInterrupt, a kill), then the last line torn.
  const std::string log = temp_path("resumed.jsonl");
  FitnessFn dying = [&](const RenderConfig& c) {
    if (calls >= 30) throw SearchInterrupted("killed");
    return f(c);
  };
  advice = 0;
  CHECK_THROWS_AS(search.run(dying, advisor, log), SearchInterrupted);
  const int first_advice = advice;
  const int first_calls = calls.exchange(0);
  {
    std::ofstream torn(log, std::ios::app | std::ios::binary);
    torn << R"({"type": "eval", "genome": [1,)";
  }
  advice = 0;
  SearchResult resumed = search.run(f, advisor, log);
  const int resumed_calls = calls.exchange(0);

  CHECK(trace(resumed) == trace(full));
  REQUIRE(resumed.best);
  CHECK(resumed.best->genome == full.best->genome);
  REQUIRE(resumed.front.size() == full.front.size());
  for (std::size_t i = 0; i < full.front.size(); ++i)
    CHECK(resumed.front[i].genome == full.front[i].genome);
  // Only the evaluations the first run never finished were redone.
  CHECK(first_calls == 30);
  CHECK(first_calls + resumed_calls == full_calls);
  CHECK(first_advice > 0);
  CHECK(first_advice + advice == full_advice);

  // A log of another search is refused, not silently mixed.
  SearchOptions other = o;
  other.seed = 6;
  CHECK_THROWS_WITH(ConfigSearch(test_space(), other).run(f, nullptr, log),
                    Catch::Contains("different search"));
  // A folder given as the log is refused, naming it (it was the filesystem library's error).
  const std::string folder = std::filesystem::path(log).parent_path().string();
  CHECK_THROWS_AS(ConfigSearch(test_space(), o).run(f, nullptr, folder), IoError);
  CHECK_THROWS_WITH(ConfigSearch(test_space(), o).run(f, nullptr, folder),
                    Catch::Contains("is a folder") && Catch::Contains(folder));
}

TEST_CASE("failing evaluations are recorded and the search goes on", "[search]") {
  FitnessFn f = [](const RenderConfig& c) {
    if (c.font_size >= 11) throw FontError("cannot open font for size " + std::to_string(c.font_size));
    Scores s;
    s.accuracy = c.font_size;
    s.compression = 1;
    if (c.font_size == 7) s.accuracy = std::nan("");
    return s;
  };
  SearchOptions o;
  o.objective = "accuracy";
  o.population = 12;
  o.generations = 10;
  o.seed = 2;
  SearchResult r = ConfigSearch(test_space(), o).run(f);
  int failed = 0;
  for (const auto& ind : r.evaluated)
    if (!ind.ok) {
      ++failed;
      CHECK((ind.error.find("cannot open font") != std::string::npos ||
             ind.error.find("non-finite") != std::string::npos));
    }
  CHECK(failed > 0);
  REQUIRE(r.best);
  CHECK(r.best->ok);
  CHECK(r.best_config().font_size == 10);
}

TEST_CASE("advisor replies are repaired or discarded with a reason, never a crash", "[search]") {
  SearchSpace s = test_space();
  Genome base = {5, 10, 2, 2, 1};

  auto ok = parse_advisor_reply(
      "Sure! Here is my analysis.\n```json\n{\"analysis\": \"wider margins help\", \"candidates\": "
      "[{\"margin-x\": 30, \"font-size\": \"10pt\"}, {\"margin-y\": 41, \"alignment\": \"left\"}, "
      "{\"line-height\": 12.2}]}\n```\nGood luck",
      s, base, 4);
  CHECK(ok.analysis == "wider margins help");
  REQUIRE(ok.candidates.size() == 3);
  CHECK(s.decode(ok.candidates[0]).margin_x == 30);
  CHECK(s.decode(ok.candidates[0]).font_size == 10);
  CHECK(s.decode(ok.candidates[0]).margin_y == 20);  // omitted: kept from the fallback
  CHECK(s.decode(ok.candidates[1]).margin_y == 40);  // 41 repaired to the range
  CHECK(s.decode(ok.candidates[1]).alignment == Alignment::kLeft);
  CHECK(s.decode(ok.candidates[2]).leading() == 12);  // absolute line-height, repaired to 9 + 3
  bool noted = false;
  for (const auto& n : ok.notes) noted |= n.find("41 repaired to 40") != std::string::npos;
  CHECK(noted);

  auto mixed = parse_advisor_reply(
      R"({"candidates": [42, {"colour": "blue"}, {"line-height": 9}, {"margin-x": "wide"},
          {"font-size": 9, "margin-x": 10}, {"margin-x": 12}, {"margin-x": 12}, {"margin-x": 14}]})",
      s, base, 7);
  // {"font-size": 9, "margin-x": 10} and {"margin-x": 12} survive; the rest each get a reason.
  REQUIRE(mixed.candidates.size() == 2);
  std::string all;
  for (const auto& n : mixed.notes) all += n + "\n";
  CHECK_THAT(all, Catch::Contains("not an object"));
  CHECK_THAT(all, Catch::Contains("unknown key 'colour'"));
  CHECK_THAT(all, Catch::Contains("infeasible"));
  CHECK_THAT(all, Catch::Contains("is not a number"));
  CHECK_THAT(all, Catch::Contains("no usable keys"));
  CHECK_THAT(all, Catch::Contains("same as an earlier candidate"));
  CHECK_THAT(all, Catch::Contains("beyond the 7 asked for"));

  for (const std::string& bad :
       {std::string(""), std::string("no json here"), std::string("{\"candidates\": [{"),
        std::string(100000, '['), std::string("{\"candidates\": {\"margin-x\": 2}}"),
        std::string("[1, 2, 3]"), std::string("{\"analysis\": 5}"),
        std::string("\xff\xfe{\"candidates\": [{\"margin-x\": 1e308}]}")}) {
    AdvisorReply r;
    REQUIRE_NOTHROW(r = parse_advisor_reply(bad, s, base, 4));
    for (const auto& g : r.candidates) CHECK(s.feasible(g));
    CHECK((!r.notes.empty() || r.candidates.empty()));
  }
}

TEST_CASE("advisor in the loop: candidates are evaluated, failures tolerated", "[search]") {
  FitnessFn f = [](const RenderConfig& c) {
    Scores s;
    s.accuracy = -std::fabs(num(c, "margin-x") - 34) - std::fabs(num(c, "margin-y") - 6);
    s.compression = 1;
    return s;
  };
  int calls = 0;
  std::string last_prompt;
  Advisor advisor = [&](const std::string& prompt) -> std::string {
    last_prompt = prompt;
    if (++calls == 2) throw IoError("connection refused");
    return R"({"analysis": "the optimum is obvious", "candidates": [{"margin-x": 34, "margin-y": 6}]})";
  };
  SearchOptions o;
  o.objective = "accuracy";
  o.population = 6;
  o.generations = 4;
  o.patience = 0;
  o.seed = 9;
  SearchResult r = ConfigSearch(test_space(), o).run(f, advisor);
  CHECK(calls == 3);  // generations 1..3
  REQUIRE(r.best);
  CHECK(r.best->origin == "advisor");
  CHECK(r.best->scores.accuracy == 0);
  CHECK(r.generations[1].advisor_analysis == "the optimum is obvious");
  CHECK(r.generations[1].advisor_accepted == 1);
  bool refused = false;
  for (const auto& n : r.generations[2].advisor_notes)
    refused |= n.find("connection refused") != std::string::npos;
  CHECK(refused);
  bool dup = false;
  for (const auto& n : r.generations[3].advisor_notes) dup |= n.find("already evaluated") != std::string::npos;
  CHECK(dup);
  CHECK_THAT(last_prompt, Catch::Contains("margin-x: 0 to 40 in steps of 2"));
  CHECK_THAT(last_prompt, Catch::Contains("\"candidates\""));
}

TEST_CASE("render fitness: compression from the renderer, accuracy from the evaluator", "[search]") {
  std::string font = std::string(GLYPH_TEST_FONT_DIR) + "/DejaVuSans.ttf";
  std::string text;
  for (int i = 0; i < 200; ++i) text += "The quick brown fox jumps over the lazy dog. ";
  std::vector<Sample> samples = {{0, "fox", text}, {0, "short", "Hello world."}};
  std::vector<std::string> seen;
  Evaluator eval = [&](const RenderConfig&, const std::vector<Page>& pages, const Sample& s) {
    REQUIRE(!pages.empty());
    // The last page ends at the text's end (a trailing space may be dropped).
    CHECK(pages.back().char_end + 1 >= decode_utf8(s.text).codepoints.size());
    return s.id == "fox" ? 1.0 : 0.5;
  };
  FitnessFn fit = make_render_fitness(samples, eval);
  RenderConfig c = RenderConfig::glyph_default();
  c.font_path = font;
  Scores sc = fit(c);
  CHECK(sc.accuracy == Approx(0.75));
  Renderer r(c);
  std::int64_t visual = r.render(text).stats.visual_tokens + r.render("Hello world.").stats.visual_tokens;
  std::int64_t tokens = approx_text_tokens(text) + approx_text_tokens("Hello world.");
  CHECK(sc.compression == Approx(static_cast<double>(tokens) / visual));
  CHECK_THAT(sc.details, Catch::Contains("\"visual_tokens\""));

  CHECK(approx_text_tokens("abcdefgh") == 2);
  CHECK(approx_text_tokens("\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96") == 2);  // 3 CJK chars
}

TEST_CASE("character accuracy", "[search]") {
  CHECK(edit_distance(U"kitten", U"sitting") == 3);
  CHECK(edit_distance(U"", U"abc") == 3);
  CHECK(char_accuracy("hello world", "hello world") == 1.0);
  CHECK(char_accuracy("hallo world", "hello world") == Approx(1 - 1.0 / 11));
  CHECK(char_accuracy("", "abcd") == 0.0);
  CHECK(char_accuracy("completely different and much longer", "abc") == 0.0);
  CHECK(char_accuracy("\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9") == 1.0);
}
