// ConfigSearch: Glyph's LLM-driven genetic search over rendering configs (paper section 3.4),
// maximising accuracy and compression (NSGA-II style Pareto ranking, optional constraint), with an
// optional LLM advisor proposing candidates between generations and a JSON-lines log to resume from.
//
//   glyph::SearchOptions opt;
//   opt.population = 16; opt.generations = 20; opt.seed = 0; opt.min_accuracy = 0.9;
//   glyph::ConfigSearch search(glyph::SearchSpace::builtin(), opt);
//   auto fitness = glyph::make_render_fitness(samples, my_evaluator);   // or any FitnessFn
//   glyph::SearchResult res = search.run(fitness, /*advisor=*/nullptr, "search.jsonl");
//   res.best_config().save("best.json");
//
// Deterministic for a seed (whatever the thread count); a run resumed from its log ends exactly as
// the uninterrupted run would.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "glyph/common/error.h"
#include "glyph/render/config.h"
#include "glyph/render/page.h"
#include "glyph/search/space.h"

namespace glyph {

// Thrown by a fitness function or advisor to stop the whole search (e.g. Ctrl-C); every other
// exception from a fitness function is recorded as a failed evaluation.
class SearchInterrupted : public SearchError {
 public:
  using SearchError::SearchError;
};

struct Scores {
  double accuracy = 0;     // higher is better (evaluator's scale, e.g. 0..1)
  double compression = 0;  // text tokens / visual tokens
  std::string details;     // optional JSON object text kept in the log (per-sample scores, ...)
};

// Scores one config. Called from worker threads when SearchOptions::threads != 1.
using FitnessFn = std::function<Scores(const RenderConfig& config)>;
// Prompt -> reply text (e.g. a chat-completions call). May throw; the generation then goes on
// without advice.
using Advisor = std::function<std::string(const std::string& prompt)>;

struct SearchOptions {
  int population = 16;
  int generations = 20;   // at most this many generations (the initial one counts)
  int budget = 0;         // at most this many evaluations (0: population * generations)
  int patience = 5;       // stop after this many generations without improving either objective
                          // (0: never stop early)
  double tolerance = 1e-9;  // an improvement must exceed this
  std::uint64_t seed = 0;
  int threads = 1;        // parallel evaluations (0: all cores)
  // "pareto" (accuracy and compression), "accuracy" or "compression" (that one objective).
  std::string objective = "pareto";
  std::optional<double> min_accuracy;     // constraint; violators rank behind every feasible one
  std::optional<double> min_compression;  //
  int tournament = 2;
  double crossover_rate = 0.9;
  double mutation_rate = -1;  // per gene; < 0: 1 / number of genes
  double mutation_scale = 0.15;  // range genes move by N(0, scale * size) steps (at least 1)
  int advisor_candidates = 4;    // K configs asked of the advisor per generation
  int max_attempts = 200;        // per offspring, to find a new feasible genome
  std::string text_token_counter = "approx";  // label written to the log and results
  // What the fitness measures (the Python driver sets the evaluator's name and a digest of the
  // samples). Part of the log's identity when set, so resuming a log with other samples or
  // another evaluator is refused instead of reusing scores of a different measurement.
  std::string evaluation;
};

struct Individual {
  Genome genome;
  std::string origin;  // "seed", "random", "ga", "advisor"
  int generation = 0;  // when first evaluated
  bool ok = false;     // false: the evaluation threw, `error` says what
  std::string error;
  Scores scores;
  int rank = 0;        // Pareto front index among the last population (0 = front)
  double crowding = 0;
  double violation = 0;  // constraint violation (0: feasible)
};

struct GenerationLog {
  int generation = 0;
  std::vector<Individual> population;  // survivors, ranked
  int evaluated = 0;                   // new evaluations this generation
  int failed = 0;
  int rejected = 0;     // infeasible genomes drawn and discarded before evaluation
  int duplicates = 0;   // already-seen genomes drawn and discarded
  std::string advisor_analysis;
  std::vector<std::string> advisor_notes;  // what was repaired or discarded, and why
  int advisor_accepted = 0;
  double best_accuracy = 0, best_compression = 0;  // over feasible evaluations so far
};

struct SearchResult {
  SearchSpace space;
  SearchOptions options;
  std::vector<GenerationLog> generations;
  std::vector<Individual> evaluated;  // every evaluation, in order
  std::vector<Individual> front;      // feasible Pareto front over everything evaluated
  std::optional<Individual> best;     // see docs/search.md "best"
  std::string stop_reason;

  RenderConfig best_config() const;  // throws SearchError when nothing feasible was found
};

// Progress: called (with the generation's current counts) after every evaluation and at the end of
// each generation (done == true).
struct Progress {
  int generation = 0, generations = 0;
  int done_in_generation = 0, to_do_in_generation = 0;
  int evaluations = 0;
  bool generation_done = false;
  double best_accuracy = 0, best_compression = 0;
};
using ProgressFn = std::function<void(const Progress&)>;

class ConfigSearch {
 public:
  ConfigSearch(SearchSpace space, SearchOptions options);
  // Configs every run starts with (e.g. Glyph's config_en.json), projected onto the space.
  void add_seed(const RenderConfig& config, std::vector<std::string>* notes = nullptr);

  // Runs the search. With `log_path`, every evaluation and generation is appended to it as JSON
  // lines; if the file already holds a run with the same space, options and seeds, that run is
  // resumed (logged evaluations and advisor replies are replayed, not redone).
  SearchResult run(const FitnessFn& fitness, const Advisor& advisor = nullptr,
                   const std::string& log_path = "", const ProgressFn& progress = nullptr) const;

  const SearchSpace& space() const { return space_; }
  const SearchOptions& options() const { return options_; }

 private:
  SearchSpace space_;
  SearchOptions options_;
  std::vector<Genome> seeds_;
};

// ---- the LLM advisor's prompt and reply

// The prompt: task, space, constraint, history (best configs, front, failures) and the reply format.
std::string advisor_prompt(const SearchSpace& space, const SearchOptions& options,
                           const std::vector<Individual>& evaluated,
                           const std::vector<Individual>& population, int generation);

struct AdvisorReply {
  std::string analysis;
  std::vector<Genome> candidates;    // feasible, repaired onto the space
  std::vector<std::string> notes;    // one line per repair or discard
};
// Defensive parse: finds the JSON object in the reply (fences and prose are tolerated), repairs
// values onto the space (nearest option; numbers given as strings), fills keys a candidate omits
// from `fallback`, drops unknown keys and infeasible candidates. Never throws on bad input.
AdvisorReply parse_advisor_reply(const std::string& reply, const SearchSpace& space,
                                 const Genome& fallback, int max_candidates);

// ---- evaluation by rendering

struct Sample {
  std::size_t index = 0;
  std::string id;
  std::string text;  // UTF-8
};

// Accuracy of one rendered sample (mean over samples is the config's accuracy).
using Evaluator = std::function<double(const RenderConfig& config, const std::vector<Page>& pages,
                                       const Sample& sample)>;
using TextTokenCounter = std::function<std::int64_t(const std::string& utf8)>;

// Approximate text tokens for a GLM-4-style BPE when no tokenizer is given: 1 token per 4 non-CJK
// code points plus 1 per 1.5 CJK characters (rounded up). Results label it "approx".
std::int64_t approx_text_tokens(const std::string& utf8);

// Renders every sample with the config, compression = sum(text tokens) / sum(visual tokens),
// accuracy = mean of evaluator(config, pages, sample). Text tokens are counted once, up front.
FitnessFn make_render_fitness(std::vector<Sample> samples, Evaluator evaluator,
                              TextTokenCounter count_text_tokens = approx_text_tokens);

// Levenshtein distance over code points, and 1 - distance / max(len(ref), 1) clamped to [0, 1].
std::size_t edit_distance(const std::u32string& a, const std::u32string& b);
double char_accuracy(const std::string& hypothesis_utf8, const std::string& reference_utf8);

}  // namespace glyph
