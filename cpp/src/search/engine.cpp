#include "search/engine.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <set>

#include "common/check.h"
#include "glyph/common/thread_pool.h"
#include "search/log.h"
#include "search/pareto.h"

namespace glyph::detail {

namespace {

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
          } catch (const json::exception&) {
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

SearchResult run_search(const SearchSpace& space, const SearchOptions& options,
                        const std::vector<Genome>& seeds, const FitnessFn& fitness,
                        const Advisor& advisor, const std::string& log_path,
                        const ProgressFn& progress) {
  Engine engine(space, options, seeds, fitness, advisor, log_path, progress);
  return engine.run();
}

}  // namespace glyph::detail
