// Bindings for the tokenizer. Text crosses as UTF-8 views of the Python str (no copy); every
// call that tokenises releases the GIL, batch calls run on the C++ thread pool.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string_view>

#include "glyph/common/thread_pool.h"
#include "glyph/tokenizer/prompt.h"
#include "glyph/tokenizer/tokenizer.h"

namespace py = pybind11;
using namespace glyph;

namespace {

// UTF-8 of a str (cached inside the str object, so the view lives as long as it does) or bytes.
// A str holding lone surrogates raises UnicodeEncodeError, as `tokenizers` does.
std::string_view utf8_view(const py::handle& text) {
  if (PyUnicode_Check(text.ptr())) {
    Py_ssize_t n = 0;
    const char* p = PyUnicode_AsUTF8AndSize(text.ptr(), &n);
    if (!p) throw py::error_already_set();
    return {p, static_cast<std::size_t>(n)};
  }
  if (PyBytes_Check(text.ptr())) {
    return {PyBytes_AS_STRING(text.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(text.ptr()))};
  }
  throw py::type_error("text must be str or bytes, got " +
                       std::string(py::str(text.get_type().attr("__name__"))));
}

std::vector<std::string_view> utf8_views(const py::sequence& texts) {
  std::vector<std::string_view> views;
  views.reserve(texts.size());
  for (const py::handle& t : texts) views.push_back(utf8_view(t));
  return views;
}

py::list to_list(const std::vector<std::int32_t>& ids) {
  py::list out(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i)
    PyList_SET_ITEM(out.ptr(), static_cast<Py_ssize_t>(i), PyLong_FromLong(ids[i]));
  return out;
}

py::str to_str(const std::string& s) {
  return py::reinterpret_steal<py::str>(
      PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace"));
}

}  // namespace

void init_tokenizer(py::module_& m) {
  py::class_<Tokenizer>(m, "Tokenizer", R"doc(
Hugging Face tokenizer.json byte-level BPE (GLM-4 / GLM-4.1V, Qwen2, GPT-2 family), encoding and
decoding exactly as the `tokenizers` library. Thread-safe; heavy calls release the GIL.

    tok = glyph.Tokenizer.from_file("tokenizer.json")
    ids = tok.encode("Hello, 世界", add_special_tokens=False)
    tok.decode(ids)          # 'Hello, 世界'
    tok.count(long_text)     # number of tokens, no id list built
)doc")
      .def_static("from_file", &Tokenizer::from_file, py::arg("path"),
                  py::arg("config_path") = "",
                  "Load tokenizer.json (and tokenizer_config.json beside it, or config_path).",
                  py::call_guard<py::gil_scoped_release>())
      .def_static(
          "from_str",
          [](const std::string& tokenizer_json, const std::string& config_json) {
            py::gil_scoped_release release;
            return Tokenizer::from_json(tokenizer_json, config_json);
          },
          py::arg("tokenizer_json"), py::arg("config_json") = "")
      .def(
          "encode",
          [](const Tokenizer& t, const py::object& text, bool add_special_tokens) {
            std::string_view v = utf8_view(text);
            std::vector<std::int32_t> ids;
            {
              py::gil_scoped_release release;
              ids = t.encode(v, add_special_tokens);
            }
            return to_list(ids);
          },
          py::arg("text"), py::arg("add_special_tokens") = true)
      .def(
          "encode_batch",
          [](const Tokenizer& t, const py::sequence& texts, bool add_special_tokens,
             int threads) {
            std::vector<std::string_view> views = utf8_views(texts);
            std::vector<std::vector<std::int32_t>> ids(views.size());
            {
              py::gil_scoped_release release;
              parallel_for(views.size(), threads, [&](std::size_t i) {
                ids[i] = t.encode(views[i], add_special_tokens);
              });
            }
            py::list out(ids.size());
            for (std::size_t i = 0; i < ids.size(); ++i)
              out[i] = to_list(ids[i]);
            return out;
          },
          py::arg("texts"), py::arg("add_special_tokens") = true, py::arg("threads") = 0)
      .def(
          "count",
          [](const Tokenizer& t, const py::object& text, bool add_special_tokens) {
            std::string_view v = utf8_view(text);
            py::gil_scoped_release release;
            return t.count(v, add_special_tokens);
          },
          py::arg("text"), py::arg("add_special_tokens") = false,
          "Number of tokens encode() would return (special tokens excluded by default).")
      .def(
          "count_batch",
          [](const Tokenizer& t, const py::sequence& texts, bool add_special_tokens,
             int threads) {
            std::vector<std::string_view> views = utf8_views(texts);
            std::vector<std::size_t> out(views.size());
            py::gil_scoped_release release;
            parallel_for(views.size(), threads,
                         [&](std::size_t i) { out[i] = t.count(views[i], add_special_tokens); });
            return out;
          },
          py::arg("texts"), py::arg("add_special_tokens") = false, py::arg("threads") = 0)
      .def(
          "decode",
          [](const Tokenizer& t, const std::vector<std::int32_t>& ids, bool skip_special_tokens) {
            std::string s;
            {
              py::gil_scoped_release release;
              s = t.decode(ids, skip_special_tokens);
            }
            return to_str(s);
          },
          py::arg("ids"), py::arg("skip_special_tokens") = false)
      .def(
          "decode_batch",
          [](const Tokenizer& t, const std::vector<std::vector<std::int32_t>>& ids,
             bool skip_special_tokens, int threads) {
            std::vector<std::string> s;
            {
              py::gil_scoped_release release;
              s = t.decode_batch(ids, skip_special_tokens, threads);
            }
            py::list out(s.size());
            for (std::size_t i = 0; i < s.size(); ++i) out[i] = to_str(s[i]);
            return out;
          },
          py::arg("ids"), py::arg("skip_special_tokens") = false, py::arg("threads") = 0)
      .def(
          "pre_tokenize",
          [](const Tokenizer& t, const py::object& text) {
            return t.pre_tokenize(utf8_view(text));
          },
          py::arg("text"), "Byte-level pieces of the pre-tokenizer (added tokens kept whole).")
      .def(
          "tokenize",
          [](const Tokenizer& t, const py::object& text, bool add_special_tokens) {
            return t.tokenize(utf8_view(text), add_special_tokens);
          },
          py::arg("text"), py::arg("add_special_tokens") = false)
      .def("token_to_id", &Tokenizer::token_to_id, py::arg("token"))
      .def("id_to_token", &Tokenizer::id_to_token, py::arg("id"))
      .def("special_token_id", &Tokenizer::special_token_id, py::arg("name"),
           "Id of a special token by text ('<|image|>') or role ('eos_token').")
      .def("is_special", &Tokenizer::is_special, py::arg("id"))
      .def_property_readonly("special_tokens", &Tokenizer::special_tokens)
      .def_property_readonly("vocab_size", &Tokenizer::vocab_size)
      .def("get_vocab_size", [](const Tokenizer& t) { return t.vocab_size(); })
      .def_property_readonly("chat_template", &Tokenizer::chat_template)
      .def("__repr__", [](const Tokenizer& t) {
        return "glyph.Tokenizer(vocab_size=" + std::to_string(t.vocab_size()) + ")";
      });

  m.attr("GLM4V_PROMPT_TEMPLATE") = std::string(kGlm4vPromptTemplate);
  m.def("build_glm4v_prompt", &build_glm4v_prompt, py::arg("page_visual_tokens"),
        py::arg("question"), py::arg("prompt_template") = std::string(kGlm4vPromptTemplate),
        "GLM-4.1V user turn: per page <|begin_of_image|> + N x <|image|> + <|end_of_image|>, "
        "then the question and <|assistant|>.");
  m.def("build_glm4v_prompt_ids", &build_glm4v_prompt_ids, py::arg("tokenizer"),
        py::arg("page_visual_tokens"), py::arg("question"),
        py::arg("prompt_template") = std::string(kGlm4vPromptTemplate),
        py::call_guard<py::gil_scoped_release>());
}
