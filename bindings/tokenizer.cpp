// Bindings for the tokenizer. Text crosses as UTF-8 views of the Python str (no copy); every
// call that tokenises releases the GIL, batch calls run on the C++ thread pool.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string_view>

#include "glyph/common/thread_pool.h"
#include "glyph/tokenizer/prompt.h"
#include "glyph/tokenizer/tokenizer.h"
#include "support.h"

namespace py = pybind11;
using namespace glyph;
using namespace glyph::py_support;

namespace {

// Tokenizer input must be exact (TextPolicy::kExact): views of the str's own UTF-8, no copy.
std::vector<Utf8> utf8_all(const py::sequence& texts) {
  // a str is a sequence too: it would be one text per character
  if (py::isinstance<py::str>(texts) || py::isinstance<py::bytes>(texts))
    throw py::type_error("a batch is a list of texts, not one str/bytes (use encode()/count())");
  std::vector<Utf8> out;
  out.reserve(texts.size());
  for (const py::handle& t : texts) out.emplace_back(t, TextPolicy::kExact);
  return out;
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
  py::class_<Tokenizer> tokenizer(m, "Tokenizer", R"doc(
Hugging Face tokenizer.json byte-level BPE (GLM-4 / GLM-4.1V, Qwen2 / Qwen3, GPT-2 family),
encoding and decoding exactly as the `tokenizers` library. Thread-safe; heavy calls release the
GIL. decode() keeps special tokens by default, as transformers does (`tokenizers` drops them).

    tok = glyph.Tokenizer.from_file("tokenizer.json")
    ids = tok.encode("Hello, 世界", add_special_tokens=False)
    tok.decode(ids)          # 'Hello, 世界'
    tok.count(long_text)     # number of tokens, no id list built
)doc");
  tokenizer
      .def_static(
          "from_file",
          [](const PathArg& path, const PathArg& config_path) {
            return Tokenizer::from_file(path_arg(path), path_arg(config_path));
          },
          py::arg("path"), py::arg("config_path") = "",
          "Load tokenizer.json (and tokenizer_config.json beside it, or config_path).",
          py::call_guard<py::gil_scoped_release>())
      .def_static(
          "from_json",
          [](const std::string& tokenizer_json, const std::string& config_json) {
            py::gil_scoped_release release;
            return Tokenizer::from_json(tokenizer_json, config_json);
          },
          py::arg("tokenizer_json"), py::arg("config_json") = "",
          "From the text of a tokenizer.json (and optionally of a tokenizer_config.json).")
      .def(
          "encode",
          [](const Tokenizer& t, const py::object& text, bool add_special_tokens) {
            Utf8 v(text, TextPolicy::kExact);
            std::vector<std::int32_t> ids;
            {
              py::gil_scoped_release release;
              ids = t.encode(v.view(), add_special_tokens);
            }
            return to_list(ids);
          },
          py::arg("text"), py::arg("add_special_tokens") = true)
      .def(
          "encode_batch",
          [](const Tokenizer& t, const py::sequence& texts, bool add_special_tokens,
             int threads) {
            const std::vector<Utf8> views = utf8_all(texts);
            std::vector<std::vector<std::int32_t>> ids(views.size());
            {
              py::gil_scoped_release release;
              parallel_for(views.size(), threads, [&](std::size_t i) {
                ids[i] = t.encode(views[i].view(), add_special_tokens);
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
          [](const Tokenizer& t, const py::object& text, bool add_special_tokens,
             std::size_t window) {
            if (py::isinstance<TextSource>(text)) {
              auto src = text.cast<std::shared_ptr<TextSource>>();
              SourceLease lease(src.get());
              py::gil_scoped_release release;
              return t.count(*src, add_special_tokens, window);
            }
            Utf8 v(text, TextPolicy::kExact);
            py::gil_scoped_release release;
            return t.count(v.view(), add_special_tokens);
          },
          py::arg("text"), py::arg("add_special_tokens") = false,
          py::arg("window") = std::size_t{1} << 20,
          "Number of tokens encode() would return (special tokens excluded by default). `text` "
          "may be a glyph.TextSource: read in windows of about `window` bytes (memory bounded), "
          "invalid UTF-8 replaced; the count equals the whole text's.")
      .def_property_readonly("streams_count", &Tokenizer::streams_count,
                             "Whether count(TextSource) reads in bounded windows for this "
                             "tokenizer (else it counts the whole text at once).")
      .def(
          "count_batch",
          [](const Tokenizer& t, const py::sequence& texts, bool add_special_tokens,
             int threads) {
            const std::vector<Utf8> views = utf8_all(texts);
            std::vector<std::size_t> out(views.size());
            py::gil_scoped_release release;
            parallel_for(views.size(), threads, [&](std::size_t i) {
              out[i] = t.count(views[i].view(), add_special_tokens);
            });
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
          py::arg("ids"), py::arg("skip_special_tokens") = false,
          "Text of `ids`. Special tokens are kept unless skip_special_tokens=True: the default of "
          "transformers' decode(), not of `tokenizers` (which skips them). InputError for an id "
          "outside the vocabulary.")
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
          py::arg("ids"), py::arg("skip_special_tokens") = false, py::arg("threads") = 0,
          "decode() of each id list on `threads` workers; special tokens kept by default.")
      .def(
          "normalize",
          [](const Tokenizer& t, const py::object& text) {
            std::string s;
            {
              Utf8 v(text, TextPolicy::kExact);
              py::gil_scoped_release release;
              s = t.normalize(v.view());
            }
            return to_str(s);
          },
          py::arg("text"),
          "`text` after the normalizer (NFC for Qwen2/Qwen3; unchanged without one), as "
          "`tokenizers`' normalizer.normalize_str.")
      .def(
          "pre_tokenize",
          [](const Tokenizer& t, const py::object& text) {
            return t.pre_tokenize(Utf8(text, TextPolicy::kExact).view());
          },
          py::arg("text"),
          "Byte-level pieces of the pre-tokenizer on the normalized text (added tokens kept "
          "whole).")
      .def(
          "tokenize",
          [](const Tokenizer& t, const py::object& text, bool add_special_tokens) {
            return t.tokenize(Utf8(text, TextPolicy::kExact).view(), add_special_tokens);
          },
          py::arg("text"), py::arg("add_special_tokens") = false)
      .def("token_to_id", &Tokenizer::token_to_id, py::arg("token"))
      .def("id_to_token", &Tokenizer::id_to_token, py::arg("id"))
      .def("special_token_id", &Tokenizer::special_token_id, py::arg("name"),
           "Id of a special token by text ('<|image|>') or role ('eos_token').")
      .def("is_special", &Tokenizer::is_special, py::arg("id"))
      .def_property_readonly("special_tokens", &Tokenizer::special_tokens)
      .def_property_readonly("vocab_size", &Tokenizer::vocab_size)
      .def_property_readonly("chat_template", &Tokenizer::chat_template)
      .def("__repr__", [](const Tokenizer& t) {
        return "glyph.Tokenizer(vocab_size=" + std::to_string(t.vocab_size()) + ")";
      });

  deprecated_static(tokenizer, "from_str", "from_json");
  tokenizer.def("get_vocab_size", [](const Tokenizer& t) {
    warn_deprecated("Tokenizer.get_vocab_size()", "Tokenizer.vocab_size");
    return t.vocab_size();
  });

  m.attr("GLM4V_PROMPT_TEMPLATE") = std::string(kGlm4vPromptTemplate);
  m.def("glm4v_prompt", &glm4v_prompt, py::arg("page_visual_tokens"), py::arg("question"),
        py::arg("prompt_template") = std::string(kGlm4vPromptTemplate),
        "GLM-4.1V user turn: per page <|begin_of_image|> + N x <|image|> + <|end_of_image|>, "
        "then the question and <|assistant|>.");
  m.def(
      "glm4v_prompt_ids",
      [](py::handle tokenizer, const std::vector<int>& pages, const std::string& question,
         const std::string& prompt_template) {
        std::unique_ptr<TextCodec> codec = codec_of(tokenizer);
        py::gil_scoped_release release;
        return glm4v_prompt_ids(*codec, pages, question, prompt_template);
      },
      py::arg("tokenizer"), py::arg("page_visual_tokens"), py::arg("question"),
      py::arg("prompt_template") = std::string(kGlm4vPromptTemplate),
      "glm4v_prompt() as ids of `tokenizer` (glyph.Tokenizer, or any tokenizer glyph adapts); it "
      "must know GLM-4.1V's image tokens.");
}
