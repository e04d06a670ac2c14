// Bindings for ConfigSearch. Python callables (fitness, evaluator, token counter, advisor,
// progress) run on the search's worker threads: each call takes the GIL, and the search itself
// runs with the GIL released.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>

#include "glyph/glyph.h"

namespace py = pybind11;
using namespace glyph;

namespace {

// A Python object that may be copied and dropped on threads without the GIL.
using PyRef = std::shared_ptr<py::object>;
PyRef hold(py::object o) {
  return PyRef(new py::object(std::move(o)), [](py::object* p) {
    py::gil_scoped_acquire gil;
    delete p;
  });
}

// Python exception -> C++: KeyboardInterrupt stops the search; anything else is that call's error.
[[noreturn]] void rethrow_python(py::error_already_set& e) {
  if (e.matches(PyExc_KeyboardInterrupt) || e.matches(PyExc_SystemExit))
    throw SearchInterrupted("search interrupted (KeyboardInterrupt)");
  std::string msg = e.what();
  auto at = msg.find("\n\nAt:");
  if (at != std::string::npos) msg.resize(at);
  throw SearchError(msg);
}

py::list pages_copy(const std::vector<Page>& pages) {
  py::list out;
  for (const auto& p : pages) out.append(std::make_shared<Page>(p));
  return out;
}

Scores scores_from_python(const py::handle& r) {
  Scores s;
  if (py::isinstance<py::dict>(r)) {
    py::dict d = py::reinterpret_borrow<py::dict>(r);
    if (!d.contains("accuracy") || !d.contains("compression"))
      throw SearchError("fitness returned a dict without 'accuracy' and 'compression'");
    s.accuracy = d["accuracy"].cast<double>();
    s.compression = d["compression"].cast<double>();
    if (d.contains("details")) s.details = py::module_::import("json").attr("dumps")(d["details"]).cast<std::string>();
    return s;
  }
  auto t = r.cast<py::sequence>();
  if (t.size() != 2) throw SearchError("fitness must return (accuracy, compression)");
  s.accuracy = t[0].cast<double>();
  s.compression = t[1].cast<double>();
  return s;
}

}  // namespace

void init_search(py::module_& m) {
  py::class_<SearchSpace>(m, "SearchSpace", R"doc(
The rendering configs a search may visit: discrete genes (ranges with steps, choices, grouped
choices such as colour themes) and constraints. See docs/search.md for the JSON format.

    space = glyph.SearchSpace.builtin()          # the paper's pre-training style space
    space = glyph.SearchSpace.from_file("space.json")
)doc")
      .def_static("builtin", &SearchSpace::builtin, py::arg("fonts") = std::vector<std::string>{})
      .def_static("from_json", &SearchSpace::from_json, py::arg("json"), py::arg("base_dir") = "")
      .def_static("from_file", &SearchSpace::from_file, py::arg("path"))
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
      .def_property_readonly("base", &SearchSpace::base)
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
      .def_readwrite("text_token_counter", &SearchOptions::text_token_counter);

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
      .def_property_readonly("space", &ConfigSearch::space)
      .def_property_readonly("options", &ConfigSearch::options)
      .def(
          "run",
          [](const ConfigSearch& s, py::object fitness, py::object samples, py::object evaluator,
             py::object text_tokens, py::object advisor, const std::string& log_path,
             py::object progress) {
            FitnessFn fit;
            if (!fitness.is_none()) {
              PyRef f = hold(fitness);
              fit = [f](const RenderConfig& c) {
                py::gil_scoped_acquire gil;
                try {
                  return scores_from_python((*f)(c));
                } catch (py::error_already_set& e) {
                  rethrow_python(e);
                } catch (const py::cast_error& e) {
                  throw SearchError(std::string("fitness returned a bad value: ") + e.what());
                }
              };
            } else {
              if (samples.is_none() || evaluator.is_none())
                throw py::value_error("run() needs fitness, or samples and an evaluator");
              std::vector<Sample> v;
              for (auto item : samples.cast<py::list>()) {
                auto t = item.cast<py::tuple>();
                v.push_back(Sample{v.size(), t[0].cast<std::string>(), t[1].cast<std::string>()});
              }
              PyRef ev = hold(evaluator);
              Evaluator e = [ev](const RenderConfig& c, const std::vector<Page>& pages,
                                 const Sample& sample) {
                py::gil_scoped_acquire gil;
                try {
                  return (*ev)(c, pages_copy(pages), sample.index).cast<double>();
                } catch (py::error_already_set& err) {
                  rethrow_python(err);
                } catch (const py::cast_error&) {
                  throw SearchError("evaluator must return a number");
                }
              };
              TextTokenCounter counter = approx_text_tokens;
              if (!text_tokens.is_none()) {
                PyRef tt = hold(text_tokens);
                counter = [tt](const std::string& text) {
                  py::gil_scoped_acquire gil;
                  try {
                    return (*tt)(py::str(text)).cast<std::int64_t>();
                  } catch (py::error_already_set& err) {
                    rethrow_python(err);
                  }
                };
              }
              fit = make_render_fitness(std::move(v), std::move(e), std::move(counter));
            }
            Advisor adv;
            if (!advisor.is_none()) {
              PyRef a = hold(advisor);
              adv = [a](const std::string& prompt) {
                py::gil_scoped_acquire gil;
                try {
                  py::object r = (*a)(prompt);
                  if (!py::isinstance<py::str>(r)) throw SearchError("advisor must return a str");
                  return r.cast<std::string>();
                } catch (py::error_already_set& err) {
                  rethrow_python(err);
                }
              };
            }
            ProgressFn prog;
            if (!progress.is_none()) {
              PyRef p = hold(progress);
              prog = [p](const Progress& st) {
                py::gil_scoped_acquire gil;
                py::dict d;
                d["generation"] = st.generation;
                d["generations"] = st.generations;
                d["done"] = st.done_in_generation;
                d["to_do"] = st.to_do_in_generation;
                d["evaluations"] = st.evaluations;
                d["generation_done"] = st.generation_done;
                d["best_accuracy"] = st.best_accuracy;
                d["best_compression"] = st.best_compression;
                try {
                  (*p)(d);
                } catch (py::error_already_set& err) {
                  rethrow_python(err);
                }
              };
            }
            try {
              py::gil_scoped_release release;
              return s.run(fit, adv, log_path, prog);
            } catch (const SearchInterrupted&) {
              PyErr_SetNone(PyExc_KeyboardInterrupt);
              throw py::error_already_set();
            }
          },
          py::arg("fitness") = py::none(), py::arg("samples") = py::none(),
          py::arg("evaluator") = py::none(), py::arg("text_tokens") = py::none(),
          py::arg("advisor") = py::none(), py::arg("log_path") = "",
          py::arg("progress") = py::none());

  m.def("advisor_prompt", &advisor_prompt, py::arg("space"), py::arg("options"),
        py::arg("evaluated"), py::arg("population"), py::arg("generation"));
  m.def(
      "parse_advisor_reply",
      [](const std::string& reply, const SearchSpace& space, const Genome& fallback,
         int max_candidates) {
        AdvisorReply r = parse_advisor_reply(reply, space, fallback, max_candidates);
        py::dict d;
        d["analysis"] = r.analysis;
        d["candidates"] = r.candidates;
        d["notes"] = r.notes;
        return d;
      },
      py::arg("reply"), py::arg("space"), py::arg("fallback"), py::arg("max_candidates") = 4);
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
