// Bindings for ConfigSearch. Python callables (fitness, evaluator, token counter, advisor,
// progress) run on the search's worker threads through PyCallable (each call takes the GIL; the
// search itself runs with the GIL released). An exception from one of them is that evaluation's
// recorded error, except Ctrl-C, which stops the search.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <memory>
#include <optional>

#include "glyph/glyph.h"
#include "support.h"

namespace py = pybind11;
using namespace glyph;
using namespace glyph::py_support;

namespace {

// The search's policy for Python errors: KeyboardInterrupt (or SystemExit) stops the search;
// anything else becomes that call's SearchError, its message without the traceback.
[[noreturn]] void search_error(py::error_already_set& e) {
  if (e.matches(PyExc_KeyboardInterrupt) || e.matches(PyExc_SystemExit))
    throw SearchInterrupted("search interrupted (KeyboardInterrupt)");
  std::string msg = e.what();
  auto at = msg.find("\n\nAt:");
  if (at != std::string::npos) msg.resize(at);
  throw SearchError(msg);
}

Scores scores_from_python(py::handle r) {
  try {
    Scores s;
    if (py::isinstance<py::dict>(r)) {
      py::dict d = py::reinterpret_borrow<py::dict>(r);
      if (!d.contains("accuracy") || !d.contains("compression"))
        throw SearchError("fitness returned a dict without 'accuracy' and 'compression'");
      s.accuracy = d["accuracy"].cast<double>();
      s.compression = d["compression"].cast<double>();
      if (d.contains("details"))
        s.details = py::module_::import("json").attr("dumps")(d["details"]).cast<std::string>();
      return s;
    }
    if (!py::isinstance<py::sequence>(r) || py::isinstance<py::str>(r))
      throw SearchError("fitness must return (accuracy, compression) or a dict with them, got " +
                        py::repr(r).cast<std::string>());
    auto t = r.cast<py::sequence>();
    if (t.size() != 2)
      throw SearchError("fitness must return (accuracy, compression), got " + std::to_string(t.size()) +
                        " values");
    s.accuracy = t[0].cast<double>();
    s.compression = t[1].cast<double>();
    return s;
  } catch (const py::cast_error& e) {
    throw SearchError(std::string("fitness returned a bad value: ") + e.what());
  }
}

// The fitness of rendering `samples` ((id, text) pairs) and scoring them with `evaluator`
// (config, pages, sample index) -> float; `text_tokens` (text) -> int counts text tokens.
FitnessFn render_fitness(const py::sequence& samples, py::object evaluator,
                         py::object text_tokens) {
  std::vector<Sample> v;
  for (auto item : samples) {
    auto t = item.cast<py::tuple>();
    v.push_back(Sample{v.size(), t[0].cast<std::string>(),
                       Utf8(t[1], TextPolicy::kReplaceSurrogates).str()});
  }
  PyCallable ev(std::move(evaluator), search_error);
  Evaluator e = [ev](const RenderConfig& c, const std::vector<Page>& pages, const Sample& sample) {
    return ev.invoke(
        [](py::object& r) {
          try {
            return r.cast<double>();
          } catch (const py::cast_error&) {
            throw SearchError("evaluator must return a number");
          }
        },
        c, pages, sample.index);  // the pages reach Python as copies
  };
  TextTokenCounter counter = approx_text_tokens;
  if (!text_tokens.is_none()) {
    PyCallable tt(std::move(text_tokens), search_error);
    counter = [tt](const std::string& text) {
      return tt.invoke(
          [](py::object& r) -> std::int64_t {
            // an int, or a whole float (len(t) / 4 is not: say so instead of rounding)
            if (PyLong_Check(r.ptr()) && !PyBool_Check(r.ptr())) return r.cast<std::int64_t>();
            if (PyFloat_Check(r.ptr())) {
              const double d = r.cast<double>();
              if (std::isfinite(d) && d == std::floor(d)) return static_cast<std::int64_t>(d);
            }
            if (py::hasattr(r, "__index__")) return py::int_(r.attr("__index__")()).cast<std::int64_t>();
            throw SearchError("text_tokens must return a whole number of tokens, got " +
                              py::repr(r).cast<std::string>() + " (round it, e.g. int(len(t) / 4))");
          },
          text);
    };
  }
  return make_render_fitness(std::move(v), std::move(e), std::move(counter));
}

}  // namespace

void init_search(py::module_& m) {
  py::class_<SearchSpace>(m, "SearchSpace", R"doc(
The rendering configs a search may visit: discrete genes (ranges with steps, choices, grouped
choices such as colour themes) and constraints. See docs/search.md for the JSON format.

    space = glyph.SearchSpace.builtin()          # the paper's pre-training style space
    space = glyph.SearchSpace.from_file("space.json")
)doc")
      .def_static(
          "builtin",
          [](const std::vector<PathArg>& fonts) {
            std::vector<std::string> names;
            for (const PathArg& f : fonts) names.push_back(path_arg(f));
            return SearchSpace::builtin(names);
          },
          py::arg("fonts") = std::vector<PathArg>{})
      .def_static(
          "from_json",
          [](const std::string& json, const PathArg& base_dir) {
            return SearchSpace::from_json(json, path_arg(base_dir));
          },
          py::arg("json"), py::arg("base_dir") = "")
      .def_static(
          "from_file", [](const PathArg& path) { return SearchSpace::from_file(path_arg(path)); },
          py::arg("path"))
      .def("to_json", &SearchSpace::to_json, py::arg("indent") = 2)
      .def_property_readonly("gene_names",
                             [](const SearchSpace& s) {
                               std::vector<std::string> n;
                               for (const auto& g : s.genes()) n.push_back(g.name);
                               return n;
                             })
      .def_property_readonly("gene_sizes",
                             [](const SearchSpace& s) {
                               std::vector<int> n;
                               for (const auto& g : s.genes()) n.push_back(g.size());
                               return n;
                             })
      .def_property_readonly("base", [](const SearchSpace& s) { return RenderConfig(s.base()); },
                             "A copy of the config the genes modify.")
      .def_property_readonly("cardinality", &SearchSpace::cardinality)
      .def("decode", &SearchSpace::decode, py::arg("genome"))
      .def(
          "encode",
          [](const SearchSpace& s, const RenderConfig& c) {
            std::vector<std::string> notes;
            Genome g = s.encode(c, &notes);
            return py::make_tuple(g, notes);
          },
          py::arg("config"), "config -> (nearest genome, notes on what moved)")
      .def(
          "feasible",
          [](const SearchSpace& s, const Genome& g) {
            std::string why;
            bool ok = s.feasible(g, &why);
            return py::make_tuple(ok, why);
          },
          py::arg("genome"), "-> (ok, reason)")
      .def(
          "sample",
          [](const SearchSpace& s, std::uint64_t seed) {
            std::mt19937_64 rng(seed);
            return s.sample(rng);
          },
          py::arg("seed") = 0)
      .def("describe", &SearchSpace::describe, py::arg("genome"))
      .def("__len__", [](const SearchSpace& s) { return s.genes().size(); })
      .def("__repr__", [](const SearchSpace& s) {
        return "<glyph.SearchSpace " + std::to_string(s.genes().size()) + " genes, " +
               std::to_string(s.constraints().size()) + " constraints>";
      });

  py::class_<SearchOptions>(m, "SearchOptions", "Options of a ConfigSearch (see docs/search.md).")
      .def(py::init<>())
      .def_readwrite("population", &SearchOptions::population)
      .def_readwrite("generations", &SearchOptions::generations)
      .def_readwrite("budget", &SearchOptions::budget)
      .def_readwrite("patience", &SearchOptions::patience)
      .def_readwrite("tolerance", &SearchOptions::tolerance)
      .def_readwrite("seed", &SearchOptions::seed)
      .def_readwrite("threads", &SearchOptions::threads)
      .def_readwrite("objective", &SearchOptions::objective)
      .def_readwrite("min_accuracy", &SearchOptions::min_accuracy)
      .def_readwrite("min_compression", &SearchOptions::min_compression)
      .def_readwrite("tournament", &SearchOptions::tournament)
      .def_readwrite("crossover_rate", &SearchOptions::crossover_rate)
      .def_readwrite("mutation_rate", &SearchOptions::mutation_rate)
      .def_readwrite("mutation_scale", &SearchOptions::mutation_scale)
      .def_readwrite("advisor_candidates", &SearchOptions::advisor_candidates)
      .def_readwrite("max_attempts", &SearchOptions::max_attempts)
      .def_readwrite("text_token_counter", &SearchOptions::text_token_counter)
      .def_readwrite("evaluation", &SearchOptions::evaluation,
                     "what the fitness measures (the driver sets the evaluator's name and a digest "
                     "of the samples); part of the log's identity when set");

  py::class_<Scores> scores(m, "Scores", "One config's objectives.");
  scores.def_readonly("accuracy", &Scores::accuracy)
      .def_readonly("compression", &Scores::compression)
      .def_readonly("details", &Scores::details, "JSON text kept in the log");
  add_record_methods(scores, {"accuracy", "compression", "details"}, false);

  py::class_<Individual>(m, "Individual", "One evaluated config of a search.")
      .def_readonly("genome", &Individual::genome)
      .def_readonly("origin", &Individual::origin)
      .def_readonly("generation", &Individual::generation)
      .def_readonly("ok", &Individual::ok)
      .def_readonly("error", &Individual::error)
      .def_property_readonly("accuracy", [](const Individual& i) { return i.scores.accuracy; })
      .def_property_readonly("compression",
                             [](const Individual& i) { return i.scores.compression; })
      .def_property_readonly("details", [](const Individual& i) { return i.scores.details; })
      .def_readonly("rank", &Individual::rank)
      .def_readonly("violation", &Individual::violation)
      .def("__repr__", [](const Individual& i) {
        if (!i.ok) return "<Individual failed: " + i.error + ">";
        return "<Individual accuracy=" + std::to_string(i.scores.accuracy) +
               " compression=" + std::to_string(i.scores.compression) + " origin=" + i.origin + ">";
      });

  py::class_<GenerationLog>(m, "GenerationLog")
      .def_readonly("generation", &GenerationLog::generation)
      .def_readonly("population", &GenerationLog::population)
      .def_readonly("evaluated", &GenerationLog::evaluated)
      .def_readonly("failed", &GenerationLog::failed)
      .def_readonly("rejected", &GenerationLog::rejected)
      .def_readonly("duplicates", &GenerationLog::duplicates)
      .def_readonly("advisor_analysis", &GenerationLog::advisor_analysis)
      .def_readonly("advisor_notes", &GenerationLog::advisor_notes)
      .def_readonly("advisor_accepted", &GenerationLog::advisor_accepted)
      .def_readonly("best_accuracy", &GenerationLog::best_accuracy)
      .def_readonly("best_compression", &GenerationLog::best_compression);

  py::class_<Progress> progress(m, "SearchProgress",
                                "Where a search is, passed to its progress callback.");
  progress.def_readonly("generation", &Progress::generation)
      .def_readonly("generations", &Progress::generations)
      .def_readonly("done", &Progress::done_in_generation, "evaluations done this generation")
      .def_readonly("to_do", &Progress::to_do_in_generation, "evaluations this generation")
      .def_readonly("evaluations", &Progress::evaluations, "evaluations so far")
      .def_readonly("generation_done", &Progress::generation_done)
      .def_readonly("best_accuracy", &Progress::best_accuracy, "nan until a config is feasible")
      .def_readonly("best_compression", &Progress::best_compression);
  add_record_methods(progress,
                     {"generation", "generations", "done", "to_do", "evaluations",
                      "generation_done", "best_accuracy", "best_compression"},
                     /*mapping_access=*/true);

  py::class_<AdvisorReply> reply(m, "AdvisorReply", "An advisor's reply, parsed and repaired.");
  reply.def_readonly("analysis", &AdvisorReply::analysis)
      .def_readonly("candidates", &AdvisorReply::candidates, "feasible genomes")
      .def_readonly("notes", &AdvisorReply::notes, "one line per repair or discard");
  add_record_methods(reply, {"analysis", "candidates", "notes"}, /*mapping_access=*/true);

  py::class_<SearchResult>(m, "_SearchResult")
      .def_readonly("space", &SearchResult::space)
      .def_readonly("options", &SearchResult::options)
      .def_readonly("generations", &SearchResult::generations)
      .def_readonly("evaluated", &SearchResult::evaluated)
      .def_readonly("front", &SearchResult::front)
      .def_readonly("best", &SearchResult::best)
      .def_readonly("stop_reason", &SearchResult::stop_reason)
      .def("best_config", &SearchResult::best_config);

  py::class_<ConfigSearch>(m, "_ConfigSearch")
      .def(py::init<SearchSpace, SearchOptions>(), py::arg("space"), py::arg("options"))
      .def(
          "add_seed",
          [](ConfigSearch& s, const RenderConfig& c) {
            std::vector<std::string> notes;
            s.add_seed(c, &notes);
            return notes;
          },
          py::arg("config"))
      // copies: the options were checked when the search was made
      .def_property_readonly("space", [](const ConfigSearch& s) { return SearchSpace(s.space()); })
      .def_property_readonly("options", [](const ConfigSearch& s) { return SearchOptions(s.options()); })
      .def(
          "run",
          [](const ConfigSearch& s, py::object fitness, py::object samples, py::object evaluator,
             py::object text_tokens, py::object advisor, const PathArg& log_path,
             py::object progress) {
            FitnessFn fit;
            if (!fitness.is_none()) {
              PyCallable f(std::move(fitness), search_error);
              fit = [f](const RenderConfig& c) { return f.invoke(
                  [](py::object& r) { return scores_from_python(r); }, c); };
            } else {
              if (samples.is_none() || evaluator.is_none())
                throw InputError("run() needs fitness, or samples and an evaluator");
              fit = render_fitness(samples, std::move(evaluator), std::move(text_tokens));
            }
            Advisor adv;
            if (!advisor.is_none()) {
              PyCallable a(std::move(advisor), search_error);
              adv = [a](const std::string& prompt) {
                return a.invoke(
                    [](py::object& r) {
                      if (!py::isinstance<py::str>(r)) throw SearchError("advisor must return a str");
                      return r.cast<std::string>();
                    },
                    prompt);
              };
            }
            ProgressFn prog;
            if (!progress.is_none()) {
              PyCallable p(std::move(progress), search_error);
              prog = [p](const Progress& st) { p.call(st); };
            }
            py::gil_scoped_release release;
            return s.run(fit, adv, path_arg(log_path), prog);
          },
          py::arg("fitness") = py::none(), py::arg("samples") = py::none(),
          py::arg("evaluator") = py::none(), py::arg("text_tokens") = py::none(),
          py::arg("advisor") = py::none(), py::arg("log_path") = "",
          py::arg("progress") = py::none());

  m.def(
      "evaluate_config",
      [](const RenderConfig& config, const py::sequence& samples, py::object evaluator,
         py::object text_tokens) {
        FitnessFn fit = render_fitness(samples, std::move(evaluator), std::move(text_tokens));
        py::gil_scoped_release release;
        return fit(config);
      },
      py::arg("config"), py::arg("samples"), py::arg("evaluator"),
      py::arg("text_tokens") = py::none(),
      "Scores of one config, computed as the search computes them (make_render_fitness).");
  m.def("advisor_prompt", &advisor_prompt, py::arg("space"), py::arg("options"),
        py::arg("evaluated"), py::arg("population"), py::arg("generation"));
  m.def("parse_advisor_reply", &parse_advisor_reply, py::arg("reply"), py::arg("space"),
        py::arg("fallback"), py::arg("max_candidates") = 4);
  m.def("approx_text_tokens", &approx_text_tokens, py::arg("text"),
        "Approximate GLM-4 text tokens (chars/4, CJK/1.5) when no tokenizer is given.");
  m.def(
      "char_accuracy",
      [](const std::string& hyp, const std::string& ref) {
        py::gil_scoped_release release;
        return char_accuracy(hyp, ref);
      },
      py::arg("hypothesis"), py::arg("reference"),
      "1 - Levenshtein(hypothesis, reference) / len(reference), clamped to [0, 1] (code points).");
}
