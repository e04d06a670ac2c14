// The genetic loop: NSGA-II style (mu + lambda) survival with constrained domination, tournament
// selection on the ranked population, per-gene crossover and mutation, an advisor step, and a
// JSON-lines log that doubles as a replay cache for resuming.
#include "glyph/search/search.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <set>

#include <nlohmann/json.hpp>

#include "common/check.h"
#include "glyph/common/thread_pool.h"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace glyph {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<double> objectives(const SearchOptions& o, const Individual& ind) {
  if (o.objective == "accuracy") return {ind.scores.accuracy};
  if (o.objective == "compression") return {ind.scores.compression};
  return {ind.scores.accuracy, ind.scores.compression};
}

bool dominates(const std::vector<double>& a, const std::vector<double>& b) {
  bool strictly = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] < b[i]) return false;
    if (a[i] > b[i]) strictly = true;
  }
  return strictly;
}

double violation(const SearchOptions& o, const Individual& ind) {
  if (!ind.ok) return kInf;
  double v = 0;
  // Relative shortfall, so the two constraints weigh alike whatever their scales.
  if (o.min_accuracy && ind.scores.accuracy < *o.min_accuracy)
    v += (*o.min_accuracy - ind.scores.accuracy) / std::max(std::fabs(*o.min_accuracy), 1e-12);
  if (o.min_compression && ind.scores.compression < *o.min_compression)
    v += (*o.min_compression - ind.scores.compression) /
         std::max(std::fabs(*o.min_compression), 1e-12);
  return v;
}

// Ranks `pool` in place and sorts it best first: feasible by Pareto front then crowding (larger
// first), then infeasible by violation, failures last. Ties keep the pool's order (stable sort),
// which is deterministic.
void rank_pool(const SearchOptions& o, std::vector<Individual>& pool) {
  const std::size_t n = pool.size();
  std::vector<std::vector<double>> obj(n);
  std::vector<std::size_t> feasible;
  for (std::size_t i = 0; i < n; ++i) {
    pool[i].violation = violation(o, pool[i]);
    obj[i] = objectives(o, pool[i]);
    if (pool[i].violation == 0) feasible.push_back(i);
  }
  // Fast non-dominated sort over the feasible ones.
  std::vector<int> dominated_by(n, 0);
  std::vector<std::vector<std::size_t>> dominates_list(n);
  for (std::size_t a : feasible)
    for (std::size_t b : feasible) {
      if (a == b) continue;
      if (dominates(obj[a], obj[b])) dominates_list[a].push_back(b);
      else if (dominates(obj[b], obj[a])) ++dominated_by[a];
    }
  std::vector<std::size_t> front;
  for (std::size_t a : feasible)
    if (dominated_by[a] == 0) front.push_back(a);
  int rank = 0;
  while (!front.empty()) {
    // Crowding distance within this front.
    for (std::size_t i : front) pool[i].crowding = 0;
    for (std::size_t m = 0; m < (front.empty() ? 0 : obj[front[0]].size()); ++m) {
      std::vector<std::size_t> f = front;
      std::stable_sort(f.begin(), f.end(),
                       [&](std::size_t a, std::size_t b) { return obj[a][m] < obj[b][m]; });
      double span = obj[f.back()][m] - obj[f.front()][m];
      pool[f.front()].crowding = pool[f.back()].crowding = kInf;
      if (span <= 0) continue;
      for (std::size_t k = 1; k + 1 < f.size(); ++k)
        pool[f[k]].crowding += (obj[f[k + 1]][m] - obj[f[k - 1]][m]) / span;
    }
    std::vector<std::size_t> next;
    for (std::size_t a : front) {
      pool[a].rank = rank;
      for (std::size_t b : dominates_list[a])
        if (--dominated_by[b] == 0) next.push_back(b);
    }
    std::sort(next.begin(), next.end());
    front = std::move(next);
    ++rank;
  }
  for (std::size_t i = 0; i < n; ++i)
    if (pool[i].violation != 0) {
      pool[i].rank = rank;  // behind every feasible front
      pool[i].crowding = 0;
    }
  std::stable_sort(pool.begin(), pool.end(), [](const Individual& a, const Individual& b) {
    if ((a.violation > 0) != (b.violation > 0)) return a.violation == 0;
    if (a.violation > 0) return a.violation < b.violation;
    if (a.rank != b.rank) return a.rank < b.rank;
    return a.crowding > b.crowding;
  });
}

json scores_json(const Individual& ind, const SearchSpace& space) {
  json j;
  j["genome"] = ind.genome;
  j["config"] = json::parse(space.describe(ind.genome));
  j["origin"] = ind.origin;
  j["generation"] = ind.generation;
  j["ok"] = ind.ok;
  if (ind.ok) {
    j["accuracy"] = ind.scores.accuracy;
    j["compression"] = ind.scores.compression;
  } else {
    j["error"] = ind.error;
  }
  return j;
}

json options_json(const SearchOptions& o, bool for_identity) {
  json j;
  j["population"] = o.population;
  if (!for_identity) {
    // These only decide when to stop; a resumed run may extend them.
    j["generations"] = o.generations;
    j["budget"] = o.budget;
    j["patience"] = o.patience;
    j["threads"] = o.threads;
  }
  j["tolerance"] = o.tolerance;
  j["seed"] = o.seed;
  j["objective"] = o.objective;
  j["min_accuracy"] = o.min_accuracy ? json(*o.min_accuracy) : json(nullptr);
  j["min_compression"] = o.min_compression ? json(*o.min_compression) : json(nullptr);
  j["tournament"] = o.tournament;
  j["crossover_rate"] = o.crossover_rate;
  j["mutation_rate"] = o.mutation_rate;
  j["mutation_scale"] = o.mutation_scale;
  j["advisor_candidates"] = o.advisor_candidates;
  j["max_attempts"] = o.max_attempts;
  j["text_token_counter"] = o.text_token_counter;
  return j;
}

// The JSON-lines log: header, then "eval", "advisor" and "generation" records. On resume the eval
// and advisor records replay, so the rerun retraces the logged run without re-evaluating.
class SearchLog {
 public:
  struct Cached {
    bool ok = false;
    Scores scores;
    std::string error;
  };
  struct AdvisorRecord {
    bool ok = false;
    std::string reply, error;
  };

  SearchLog(const std::string& path, const json& header) : path_(path) {
    if (path_.empty()) return;
    std::error_code ec;
    if (fs::exists(path_, ec) && fs::file_size(path_, ec) > 0) load(header);
    if (!fs::path(path_).parent_path().empty())
      fs::create_directories(fs::path(path_).parent_path(), ec);
    out_.open(path_, std::ios::binary | std::ios::app);
    GLYPH_CHECK(out_.good(), IoError, "cannot write search log '{}'", path_);
    if (!resumed_) write(header);
  }

  bool resumed() const { return resumed_; }
  int last_generation() const { return last_generation_; }

  const Cached* find(const Genome& g) const {
    auto it = evals_.find(g);
    return it == evals_.end() ? nullptr : &it->second;
  }
  const AdvisorRecord* advisor(int generation) const {
    auto it = advisor_.find(generation);
    return it == advisor_.end() ? nullptr : &it->second;
  }

  void write(const json& record) {
    if (path_.empty()) return;
    std::lock_guard<std::mutex> lock(mutex_);
    out_ << record.dump() << '\n';
    out_.flush();  // a killed run loses at most the line being written
    GLYPH_CHECK(out_.good(), IoError, "error writing search log '{}'", path_);
  }

 private:
  void load(const json& header) {
    std::ifstream in(path_, std::ios::binary);
    GLYPH_CHECK(in.good(), IoError, "cannot read search log '{}'", path_);
    std::string line;
    std::size_t good_bytes = 0, line_no = 0;
    bool truncated = false;
    while (std::getline(in, line)) {
      ++line_no;
      bool complete = !in.eof();  // the last line of a killed run may lack its newline
      json j;
      try {
        j = json::parse(line);
      } catch (const json::parse_error&) {
        GLYPH_CHECK(!complete || in.peek() == EOF, SearchError,
                    "search log '{}' line {} is not JSON (not a log, or corrupted)", path_,
                    line_no);
        truncated = true;
        break;
      }
      if (!complete) {
        truncated = true;  // parsed, but without its newline: rewrite it cleanly
        break;
      }
      good_bytes += line.size() + 1;
      if (line_no == 1) {
        GLYPH_CHECK(j.value("type", "") == "header", SearchError,
                    "search log '{}' does not start with a header", path_);
        GLYPH_CHECK(j["identity"] == header["identity"], SearchError,
                    "search log '{}' belongs to a different search (space, seeds or options "
                    "differ); remove it or use another path",
                    path_);
        resumed_ = true;
        continue;
      }
      std::string type = j.value("type", "");
      if (type == "eval") {
        Cached c;
        c.ok = j.value("ok", false);
        if (c.ok) {
          c.scores.accuracy = j.at("accuracy").get<double>();
          c.scores.compression = j.at("compression").get<double>();
          if (j.contains("details")) c.scores.details = j["details"].dump();
        } else {
          c.error = j.value("error", "");
        }
        evals_[j.at("genome").get<Genome>()] = c;
      } else if (type == "advisor") {
        AdvisorRecord r;
        r.ok = j.value("ok", false);
        r.reply = j.value("reply", "");
        r.error = j.value("error", "");
        advisor_[j.at("generation").get<int>()] = r;
      } else if (type == "generation") {
        last_generation_ = std::max(last_generation_, j.at("generation").get<int>());
      }
    }
    in.close();
    if (truncated) fs::resize_file(path_, good_bytes);
    if (!resumed_) fs::resize_file(path_, 0);  // only a torn header: start afresh
  }

  std::string path_;
  std::ofstream out_;
  std::mutex mutex_;
  bool resumed_ = false;
  int last_generation_ = -1;
  std::map<Genome, Cached> evals_;
  std::map<int, AdvisorRecord> advisor_;
};

class Engine {
 public:
  Engine(const SearchSpace& space, const SearchOptions& opt, const std::vector<Genome>& seeds,
         const FitnessFn& fitness, const Advisor& advisor, const std::string& log_path,
         const ProgressFn& progress)
      : space_(space),
        opt_(opt),
        seeds_(seeds),
        fitness_(fitness),
        advisor_(advisor),
        progress_(progress),
        rng_(opt.seed),
        log_(log_path, header()) {
    budget_ = opt_.budget > 0 ? opt_.budget : opt_.population * opt_.generations;
    mutation_rate_ = opt_.mutation_rate >= 0 ? opt_.mutation_rate
                                             : 1.0 / static_cast<double>(space_.genes().size());
  }

  SearchResult run() {
    SearchResult res;
    res.space = space_;
    res.options = opt_;
    int stale = 0;
    std::vector<Individual> population;
    for (int gen = 0; gen < opt_.generations; ++gen) {
      if (static_cast<int>(evaluated_.size()) >= budget_) {
        res.stop_reason = fmt::format("evaluation budget ({}) spent", budget_);
        break;
      }
      GenerationLog glog;
      glog.generation = gen;
      std::vector<Individual> offspring =
          gen == 0 ? initial(glog) : breed(population, gen, glog);
      if (offspring.empty()) {
        res.stop_reason = "no new feasible config could be drawn (space exhausted?)";
        break;
      }
      evaluate(offspring, gen, glog);
      std::vector<Individual> pool = population;
      pool.insert(pool.end(), offspring.begin(), offspring.end());
      rank_pool(opt_, pool);
      if (static_cast<int>(pool.size()) > opt_.population) pool.resize(opt_.population);
      population = pool;
      bool improved = update_best();
      stale = improved ? 0 : stale + 1;
      glog.population = population;
      glog.best_accuracy = best_accuracy_;
      glog.best_compression = best_compression_;
      log_generation(glog);
      if (progress_) {
        Progress p = progress_state(gen);
        p.generation_done = true;
        progress_(p);
      }
      res.generations.push_back(std::move(glog));
      if (opt_.patience > 0 && stale >= opt_.patience) {
        res.stop_reason =
            fmt::format("neither objective improved for {} generations", opt_.patience);
        break;
      }
    }
    if (res.stop_reason.empty()) res.stop_reason = "generation limit reached";
    finish(res);
    return res;
  }

 private:
  json header() const {
    json h;
    h["type"] = "header";
    h["format"] = "glyph-search/1";
    h["identity"]["space"] = json::parse(space_.to_json(-1));
    h["identity"]["options"] = options_json(opt_, true);
    h["identity"]["seeds"] = seeds_;
    h["options"] = options_json(opt_, false);
    return h;
  }

  // Initial population: the user's seeds, then draws from the space.
  std::vector<Individual> initial(GenerationLog& glog) {
    std::vector<Individual> out;
    std::set<Genome> taken;
    for (const Genome& s : seeds_) {
      if (static_cast<int>(out.size()) >= std::min(opt_.population, budget_)) break;
      std::string why;
      if (!space_.feasible(s, &why)) {
        ++glog.rejected;
        glog.advisor_notes.push_back("seed rejected: " + why);
        continue;
      }
      if (!taken.insert(s).second) continue;
      out.push_back(make(s, "seed", 0));
    }
    int attempts = 0;
    const int target = std::min(opt_.population, budget_);
    while (static_cast<int>(out.size()) < target && attempts++ < opt_.max_attempts * target) {
      Genome g = space_.sample(rng_);
      if (!taken.insert(g).second) {
        ++glog.duplicates;
        continue;
      }
      out.push_back(make(g, "random", 0));
    }
    return out;
  }

  std::vector<Individual> breed(const std::vector<Individual>& population, int gen,
                                GenerationLog& glog) {
    const int target =
        std::min(opt_.population, budget_ - static_cast<int>(evaluated_.size()));
    std::vector<Individual> out;
    std::set<Genome> taken;
    auto is_new = [&](const Genome& g) { return !seen_.count(g) && !taken.count(g); };

    if (advisor_ && opt_.advisor_candidates > 0) {
      AdvisorReply reply = ask_advisor(population, gen);
      glog.advisor_analysis = reply.analysis;
      glog.advisor_notes.insert(glog.advisor_notes.end(), reply.notes.begin(), reply.notes.end());
      for (const Genome& g : reply.candidates) {
        if (static_cast<int>(out.size()) >= target) {
          glog.advisor_notes.push_back("candidate dropped: the generation is full");
          continue;
        }
        if (!is_new(g)) {
          glog.advisor_notes.push_back("candidate dropped: already evaluated " +
                                       space_.describe(g));
          continue;
        }
        taken.insert(g);
        out.push_back(make(g, "advisor", gen));
        ++glog.advisor_accepted;
      }
    }
    const int max_attempts = opt_.max_attempts * std::max(target, 1);
    int attempts = 0;
    while (static_cast<int>(out.size()) < target && attempts++ < max_attempts) {
      const Individual& a = population[tournament(population.size())];
      const Individual& b = population[tournament(population.size())];
      Genome child = a.genome;
      if (rng_uniform(rng_) < opt_.crossover_rate)
        for (std::size_t i = 0; i < child.size(); ++i)
          if (rng_below(rng_, 2)) child[i] = b.genome[i];
      mutate(child);
      if (!space_.feasible(child)) {
        ++glog.rejected;
        continue;
      }
      if (!is_new(child)) {
        ++glog.duplicates;
        continue;
      }
      taken.insert(child);
      out.push_back(make(child, "ga", gen));
    }
    return out;
  }

  // The population is sorted best first, so the best of k random members is the smallest index.
  std::size_t tournament(std::size_t n) {
    std::size_t best = rng_below(rng_, n);
    for (int k = 1; k < opt_.tournament; ++k) best = std::min<std::size_t>(best, rng_below(rng_, n));
    return best;
  }

  void mutate(Genome& g) {
    const auto& genes = space_.genes();
    for (std::size_t i = 0; i < g.size(); ++i) {
      const int size = genes[i].size();
      if (size <= 1 || rng_uniform(rng_) >= mutation_rate_) continue;
      if (genes[i].kind == Gene::Kind::kRange) {
        const double sigma = std::max(1.0, opt_.mutation_scale * size);
        long step = std::lround(rng_normal(rng_) * sigma);
        if (step == 0) step = rng_below(rng_, 2) ? 1 : -1;
        g[i] = static_cast<int>(std::clamp<long>(g[i] + step, 0, size - 1));
      } else {
        int other = static_cast<int>(rng_below(rng_, size - 1));
        g[i] = other >= g[i] ? other + 1 : other;
      }
    }
  }

  AdvisorReply ask_advisor(const std::vector<Individual>& population, int gen) {
    std::string reply, error;
    bool ok = false;
    if (const auto* rec = log_.advisor(gen)) {
      ok = rec->ok;
      reply = rec->reply;
      error = rec->error;
    } else {
      std::string prompt = advisor_prompt(space_, opt_, evaluated_, population, gen);
      try {
        reply = advisor_(prompt);
        ok = true;
      } catch (const SearchInterrupted&) {
        throw;
      } catch (const std::exception& e) {
        error = e.what();
      }
      json record{{"type", "advisor"}, {"generation", gen}, {"ok", ok}};
      if (ok) record["reply"] = reply;
      else record["error"] = error;
      log_.write(record);
    }
    if (!ok) {
      AdvisorReply r;
      r.notes.push_back("advisor failed, generation goes on without it: " + error);
      return r;
    }
    return parse_advisor_reply(reply, space_, population.front().genome, opt_.advisor_candidates);
  }

  Individual make(const Genome& g, const char* origin, int gen) {
    Individual ind;
    ind.genome = g;
    ind.origin = origin;
    ind.generation = gen;
    return ind;
  }

  void evaluate(std::vector<Individual>& batch, int gen, GenerationLog& glog) {
    std::mutex mutex;
    int done = 0;
    const int evaluations_before = static_cast<int>(evaluated_.size());
    std::vector<char> fresh(batch.size(), 0);
    parallel_for(batch.size(), opt_.threads, [&](std::size_t i) {
      Individual& ind = batch[i];
      if (const auto* c = log_.find(ind.genome)) {
        ind.ok = c->ok;
        ind.scores = c->scores;
        ind.error = c->error;
      } else {
        fresh[i] = 1;
        try {
          ind.scores = fitness_(space_.decode(ind.genome));
          ind.ok = std::isfinite(ind.scores.accuracy) && std::isfinite(ind.scores.compression);
          if (!ind.ok) ind.error = "fitness returned a non-finite score";
        } catch (const SearchInterrupted&) {
          throw;
        } catch (const std::exception& e) {
          ind.ok = false;
          ind.error = e.what();
          if (ind.error.empty()) ind.error = "evaluation failed";
        }
        json rec = scores_json(ind, space_);
        rec["type"] = "eval";
        if (ind.ok && !ind.scores.details.empty()) {
          try {
            rec["details"] = json::parse(ind.scores.details);
          } catch (const json::parse_error&) {
            rec["details"] = ind.scores.details;
          }
        }
        if (!ind.ok) rec.erase("details");
        log_.write(rec);
      }
      if (progress_) {
        std::lock_guard<std::mutex> lock(mutex);
        ++done;
        Progress p = progress_state(gen);
        p.done_in_generation = done;
        p.to_do_in_generation = static_cast<int>(batch.size());
        p.evaluations = evaluations_before + done;
        progress_(p);
      }
    });
    for (auto& ind : batch) {
      seen_.insert(ind.genome);
      evaluated_.push_back(ind);
      ++glog.evaluated;
      if (!ind.ok) ++glog.failed;
    }
  }

  // Best feasible value of each objective in use; true when either moved by more than tolerance.
  bool update_best() {
    bool improved = false;
    const bool use_acc = opt_.objective != "compression";
    const bool use_comp = opt_.objective != "accuracy";
    for (std::size_t i = checked_; i < evaluated_.size(); ++i) {
      Individual& ind = evaluated_[i];
      ind.violation = violation(opt_, ind);
      if (ind.violation != 0) continue;
      if (use_acc && ind.scores.accuracy > best_accuracy_ + opt_.tolerance) improved = true;
      if (use_comp && ind.scores.compression > best_compression_ + opt_.tolerance) improved = true;
      best_accuracy_ = std::max(best_accuracy_, ind.scores.accuracy);
      best_compression_ = std::max(best_compression_, ind.scores.compression);
      any_feasible_ = true;
    }
    checked_ = evaluated_.size();
    return improved;
  }

  Progress progress_state(int gen) const {
    Progress p;
    p.generation = gen;
    p.generations = opt_.generations;
    p.evaluations = static_cast<int>(evaluated_.size());
    p.best_accuracy = any_feasible_ ? best_accuracy_ : std::nan("");
    p.best_compression = any_feasible_ ? best_compression_ : std::nan("");
    return p;
  }

  void log_generation(const GenerationLog& g) {
    if (g.generation <= log_.last_generation()) return;  // already in the log we resumed from
    json j;
    j["type"] = "generation";
    j["generation"] = g.generation;
    j["evaluated"] = g.evaluated;
    j["evaluations_total"] = evaluated_.size();
    j["failed"] = g.failed;
    j["rejected"] = g.rejected;
    j["duplicates"] = g.duplicates;
    j["advisor_accepted"] = g.advisor_accepted;
    if (!g.advisor_analysis.empty()) j["advisor_analysis"] = g.advisor_analysis;
    if (!g.advisor_notes.empty()) j["notes"] = g.advisor_notes;
    if (any_feasible_) {
      j["best_accuracy"] = g.best_accuracy;
      j["best_compression"] = g.best_compression;
    }
    j["population"] = json::array();
    for (const auto& ind : g.population) {
      json p = scores_json(ind, space_);
      p["rank"] = ind.rank;
      p["violation"] = std::isfinite(ind.violation) ? json(ind.violation) : json("inf");
      j["population"].push_back(p);
    }
    log_.write(j);
  }

  void finish(SearchResult& res) {
    res.evaluated = evaluated_;
    std::vector<Individual> feasible;
    for (const auto& ind : evaluated_)
      if (ind.ok && violation(opt_, ind) == 0) feasible.push_back(ind);
    rank_pool(opt_, feasible);
    for (const auto& ind : feasible)
      if (ind.rank == 0) res.front.push_back(ind);
    std::stable_sort(res.front.begin(), res.front.end(), [](const Individual& a, const Individual& b) {
      return a.scores.compression < b.scores.compression;
    });
    // "best": the constraint says what to trade. With a minimum accuracy, the most compressing
    // config that meets it; otherwise the most accurate (then most compressing) one.
    bool by_compression = opt_.objective == "compression" ||
                          (opt_.objective == "pareto" && opt_.min_accuracy && !opt_.min_compression);
    for (const auto& ind : feasible) {
      if (!res.best) {
        res.best = ind;
        continue;
      }
      const Scores& s = ind.scores;
      const Scores& b = res.best->scores;
      bool better = by_compression
                        ? (s.compression > b.compression ||
                           (s.compression == b.compression && s.accuracy > b.accuracy))
                        : (s.accuracy > b.accuracy ||
                           (s.accuracy == b.accuracy && s.compression > b.compression));
      if (better) res.best = ind;
    }
    json j{{"type", "result"}, {"stop_reason", res.stop_reason},
           {"evaluations", evaluated_.size()}};
    if (res.best) j["best"] = scores_json(*res.best, space_);
    j["front"] = json::array();
    for (const auto& ind : res.front) j["front"].push_back(scores_json(ind, space_));
    log_.write(j);
  }

  const SearchSpace& space_;
  const SearchOptions& opt_;
  const std::vector<Genome>& seeds_;
  const FitnessFn& fitness_;
  const Advisor& advisor_;
  const ProgressFn& progress_;
  std::mt19937_64 rng_;
  SearchLog log_;
  int budget_ = 0;
  double mutation_rate_ = 0;
  std::set<Genome> seen_;
  std::vector<Individual> evaluated_;
  std::size_t checked_ = 0;
  bool any_feasible_ = false;
  double best_accuracy_ = -kInf, best_compression_ = -kInf;
};

}  // namespace

RenderConfig SearchResult::best_config() const {
  GLYPH_CHECK(best.has_value(), SearchError,
              "the search found no feasible config (every evaluation failed or missed the "
              "constraint)");
  return space.decode(best->genome);
}

ConfigSearch::ConfigSearch(SearchSpace space, SearchOptions options)
    : space_(std::move(space)), options_(std::move(options)) {
  const auto& o = options_;
  GLYPH_CHECK(o.population >= 2, SearchError, "search option population: must be >= 2, got {}",
              o.population);
  GLYPH_CHECK(o.generations >= 1, SearchError, "search option generations: must be >= 1, got {}",
              o.generations);
  GLYPH_CHECK(o.budget >= 0, SearchError, "search option budget: must be >= 0, got {}", o.budget);
  GLYPH_CHECK(o.objective == "pareto" || o.objective == "accuracy" || o.objective == "compression",
              SearchError,
              "search option objective: must be pareto, accuracy or compression, got \"{}\"",
              o.objective);
  GLYPH_CHECK(o.tournament >= 1, SearchError, "search option tournament: must be >= 1, got {}",
              o.tournament);
  GLYPH_CHECK(o.crossover_rate >= 0 && o.crossover_rate <= 1, SearchError,
              "search option crossover_rate: must be in [0, 1], got {}", o.crossover_rate);
  GLYPH_CHECK(o.mutation_rate <= 1, SearchError,
              "search option mutation_rate: must be <= 1, got {}", o.mutation_rate);
  GLYPH_CHECK(o.mutation_scale > 0 && std::isfinite(o.mutation_scale), SearchError,
              "search option mutation_scale: must be > 0, got {}", o.mutation_scale);
  GLYPH_CHECK(o.advisor_candidates >= 0, SearchError,
              "search option advisor_candidates: must be >= 0, got {}", o.advisor_candidates);
  GLYPH_CHECK(o.max_attempts >= 1, SearchError,
              "search option max_attempts: must be >= 1, got {}", o.max_attempts);
  GLYPH_CHECK(!o.min_accuracy || std::isfinite(*o.min_accuracy), SearchError,
              "search option min_accuracy: must be finite");
  GLYPH_CHECK(!o.min_compression || std::isfinite(*o.min_compression), SearchError,
              "search option min_compression: must be finite");
}

void ConfigSearch::add_seed(const RenderConfig& config, std::vector<std::string>* notes) {
  seeds_.push_back(space_.encode(config, notes));
}

SearchResult ConfigSearch::run(const FitnessFn& fitness, const Advisor& advisor,
                               const std::string& log_path, const ProgressFn& progress) const {
  GLYPH_CHECK(static_cast<bool>(fitness), SearchError, "ConfigSearch::run: no fitness function");
  Engine engine(space_, options_, seeds_, fitness, advisor, log_path, progress);
  return engine.run();
}

}  // namespace glyph
