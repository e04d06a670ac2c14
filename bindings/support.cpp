#include "support.h"

#include <pybind11/stl.h>

#include <cstring>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "glyph/common/error.h"
#include "glyph/common/utf8.h"
#include "glyph/search/search.h"

namespace glyph::py_support {

// ---- errors --------------------------------------------------------------------------------

namespace {

// glyph::X <-> glyph.X, the base glyph::Error <-> glyph.GlyphError. Where Python has a builtin
// for the same failure, the class derives from it too (except OSError: catches an IoError).
struct ErrorClass {
  const char* name;
  PyObject* builtin;  // a second base, or nullptr
  const char* doc;
};
enum ErrorIndex { kBase, kConfig, kFont, kIo, kInput, kTokenizer, kModelLoad, kSearch, kNotImpl, kOom, kCount };
const ErrorClass kErrors[kCount] = {
    {"GlyphError", nullptr, "Base of every error glyphcpp raises."},
    {"ConfigError", nullptr, "A render config key holds a bad value, or a config file is unusable."},
    {"FontError", nullptr, "A font file is missing, unreadable or not a usable font."},
    {"IoError", PyExc_OSError, "A file or folder cannot be read or written."},
    {"InputError", PyExc_ValueError, "Bad input data (text, images, ids, arguments)."},
    {"TokenizerError", nullptr, "A tokenizer file is bad or uses a component glyphcpp lacks."},
    {"ModelLoadError", nullptr, "A model checkpoint or its config cannot be loaded."},
    {"SearchError", nullptr, "A search space, option or evaluation is unusable."},
    {"NotImplementedError", PyExc_NotImplementedError,
     "A feature glyphcpp does not implement (yet); never a silent wrong answer."},
    {"OutOfMemoryError", PyExc_MemoryError,
     "Host or device memory ran out; the message says what to reduce."},
};
PyObject* g_types[kCount] = {};

// The message as Python text. It may quote the user's bytes (a config value, a file name) that
// are not UTF-8: PyErr_SetString would then raise a UnicodeDecodeError in place of the error, so
// such bytes are kept as \xNN escapes.
void set_message(PyObject* type, const char* what) {
  PyObject* msg = PyUnicode_DecodeUTF8(what, static_cast<Py_ssize_t>(std::strlen(what)),
                                       "backslashreplace");
  if (!msg) return;  // the decode's own error (out of memory) stays set
  PyErr_SetObject(type, msg);
  Py_DECREF(msg);
}

void set_error(ErrorIndex i, const std::exception& e) { set_message(g_types[i], e.what()); }

void translate(std::exception_ptr p) {
  try {
    if (p) std::rethrow_exception(p);
  } catch (const SearchInterrupted& e) {  // Ctrl-C inside a callback stops the whole search
    set_message(PyExc_KeyboardInterrupt, e.what());
  } catch (const ConfigError& e) {
    set_error(kConfig, e);
  } catch (const FontError& e) {
    set_error(kFont, e);
  } catch (const IoError& e) {
    set_error(kIo, e);
  } catch (const InputError& e) {
    set_error(kInput, e);
  } catch (const TokenizerError& e) {
    set_error(kTokenizer, e);
  } catch (const ModelLoadError& e) {
    set_error(kModelLoad, e);
  } catch (const SearchError& e) {
    set_error(kSearch, e);
  } catch (const NotImplementedError& e) {
    set_error(kNotImpl, e);
  } catch (const OutOfMemoryError& e) {
    set_error(kOom, e);
  } catch (const Error& e) {
    set_error(kBase, e);
  }
}

}  // namespace

void register_errors(py::module_& core) {
  for (int i = 0; i < kCount; ++i) {
    const ErrorClass& c = kErrors[i];
    py::list base_list;
    base_list.append(py::handle(i == kBase ? PyExc_RuntimeError : g_types[kBase]));
    if (c.builtin) base_list.append(py::handle(c.builtin));
    py::tuple bases(base_list);
    const std::string qualified = std::string("glyph.") + c.name;
    PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), c.doc, bases.ptr(), nullptr);
    if (!type) throw py::error_already_set();
    g_types[i] = type;  // one reference kept for the life of the process
    core.attr(c.name) = py::handle(type);
  }
  py::register_exception_translator(translate);
}

void register_errors_in(py::module_& m) {
  py::module_ core = py::module_::import("glyph._core");
  for (int i = 0; i < kCount; ++i) {
    py::object type = core.attr(kErrors[i].name);
    g_types[i] = type.release().ptr();  // kept for the life of the process
  }
  // Local: only for exceptions leaving this module's functions; glyph._core translates its own.
  py::register_local_exception_translator(translate);
}

// ---- text ----------------------------------------------------------------------------------

Utf8::Utf8(py::handle text, TextPolicy policy) {
  if (PyBytes_Check(text.ptr())) {
    keep_ = py::reinterpret_borrow<py::object>(text);
    view_ = {PyBytes_AS_STRING(text.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(text.ptr()))};
    return;
  }
  if (!PyUnicode_Check(text.ptr())) {
    // a path or an open file is not its text: say where a file is taken
    const bool file_like = PyObject_HasAttrString(text.ptr(), "__fspath__") ||
                           PyObject_HasAttrString(text.ptr(), "read");
    throw py::type_error(
        "text must be str or bytes, got " +
        py::str(py::type::handle_of(text).attr("__name__")).cast<std::string>() +
        (file_like ? " (for a file's text, read it, or pass glyph.text_source(path) where a "
                     "TextSource is taken: render calls and Tokenizer.count)"
                   : ""));
  }
  keep_ = py::reinterpret_borrow<py::object>(text);
  Py_ssize_t n = 0;
  if (const char* p = PyUnicode_AsUTF8AndSize(text.ptr(), &n)) {
    view_ = {p, static_cast<std::size_t>(n)};  // the str's own cached UTF-8
    return;
  }
  if (policy == TextPolicy::kExact || !PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
    throw py::error_already_set();
  PyErr_Clear();
  const Py_ssize_t len = PyUnicode_GET_LENGTH(text.ptr());
  const int kind = PyUnicode_KIND(text.ptr());
  const void* data = PyUnicode_DATA(text.ptr());
  storage_.reserve(static_cast<std::size_t>(len) + 16);
  for (Py_ssize_t i = 0; i < len; ++i) {
    char32_t c = PyUnicode_READ(kind, data, i);
    if (c >= 0xD800 && c <= 0xDFFF) {
      c = 0xFFFD;
      ++replaced_;
    }
    append_utf8(storage_, c);
  }
  view_ = {};
  owns_ = true;
}

// ---- callables -----------------------------------------------------------------------------

void propagate(py::error_already_set& error) { throw; }

PyCallable::PyCallable(py::object fn, ErrorPolicy on_error) : on_error_(on_error) {
  if (fn.is_none()) return;
  if (!PyCallable_Check(fn.ptr()))
    throw py::type_error("expected a callable, got " +
                         py::str(py::type::handle_of(fn).attr("__name__")).cast<std::string>());
  fn_ = std::shared_ptr<py::object>(new py::object(std::move(fn)), [](py::object* p) {
    py::gil_scoped_acquire gil;
    delete p;
  });
}

// ---- records -------------------------------------------------------------------------------

void add_record_methods(py::object cls, std::initializer_list<const char*> fields,
                        bool mapping_access) {
  const std::vector<std::string> names(fields.begin(), fields.end());
  const std::string type = cls.attr("__name__").cast<std::string>();
  cls.attr("to_dict") = py::cpp_function(
      [names](py::handle self) {
        py::dict d;
        for (const auto& n : names) d[py::str(n)] = self.attr(n.c_str());
        return d;
      },
      py::name("to_dict"), py::is_method(cls), py::doc("The fields as a dict."));
  cls.attr("__repr__") = py::cpp_function(
      [names, type](py::handle self) {
        std::string out = type + "(";
        for (std::size_t i = 0; i < names.size(); ++i) {
          if (i) out += ", ";
          out += names[i] + "=" + py::repr(self.attr(names[i].c_str())).cast<std::string>();
        }
        return out + ")";
      },
      py::name("__repr__"), py::is_method(cls));
  if (!mapping_access) return;
  auto lookup = [names, type](py::handle self, const std::string& key) -> py::object {
    for (const auto& n : names)
      if (n == key) {
        warn_deprecated(type + "['" + key + "']", type + "." + key);
        return self.attr(key.c_str());
      }
    throw py::key_error(key);
  };
  cls.attr("__getitem__") = py::cpp_function(lookup, py::name("__getitem__"), py::is_method(cls));
  cls.attr("get") = py::cpp_function(
      [lookup](py::handle self, const std::string& key, py::object fallback) -> py::object {
        try {
          return lookup(self, key);
        } catch (const py::key_error&) {
          return fallback;
        }
      },
      py::name("get"), py::is_method(cls), py::arg("key"), py::arg("default") = py::none());
  cls.attr("keys") = py::cpp_function([names](py::handle) { return names; }, py::name("keys"),
                                      py::is_method(cls));
  cls.attr("__contains__") = py::cpp_function(
      [names](py::handle, const std::string& key) {
        for (const auto& n : names)
          if (n == key) return true;
        return false;
      },
      py::name("__contains__"), py::is_method(cls));
}

// ---- deprecated aliases ----------------------------------------------------------------------

void warn_deprecated(const std::string& old_name, const std::string& new_name) {
  const std::string msg =
      old_name + " is deprecated and will be removed in glyphcpp 0.3; use " + new_name;
  if (PyErr_WarnEx(PyExc_DeprecationWarning, msg.c_str(), 1) != 0) throw py::error_already_set();
}

void deprecated_method(py::object cls, const char* old_name, const char* new_name) {
  py::object target = cls.attr(new_name);
  const std::string type = cls.attr("__name__").cast<std::string>();
  cls.attr(old_name) = py::cpp_function(
      [target, o = type + "." + old_name, n = type + "." + new_name](py::args args,
                                                                     py::kwargs kwargs) {
        warn_deprecated(o, n);
        return target(*args, **kwargs);
      },
      py::name(old_name), py::is_method(cls),
      py::doc(("Deprecated alias of " + std::string(new_name) + ".").c_str()));
}

void deprecated_static(py::object cls, const char* old_name, const char* new_name) {
  py::object target = cls.attr(new_name);
  const std::string type = cls.attr("__name__").cast<std::string>();
  cls.attr(old_name) = py::staticmethod(py::cpp_function(
      [target, o = type + "." + old_name, n = type + "." + new_name](py::args args,
                                                                     py::kwargs kwargs) {
        warn_deprecated(o, n);
        return target(*args, **kwargs);
      },
      py::name(old_name), py::doc(("Deprecated alias of " + std::string(new_name) + ".").c_str())));
}

// ---- tokenizers ------------------------------------------------------------------------------

namespace {

// A Python tokenizer seen through glyph._tokenizers' adapter (encode, decode, token_to_id,
// count; no special tokens added, special tokens skipped when decoding).
class PyTextCodec final : public TextCodec {
 public:
  explicit PyTextCodec(py::object adapter)
      : encode_(adapter.attr("encode")),
        decode_(adapter.attr("decode")),
        token_to_id_(adapter.attr("token_to_id")),
        count_(adapter.attr("count")) {}
  std::vector<std::int32_t> encode(std::string_view text) const override {
    return encode_.invoke([](py::object& r) { return r.cast<std::vector<std::int32_t>>(); },
                          text);
  }
  std::string decode(const std::vector<std::int32_t>& ids) const override {
    return decode_.call<std::string>(ids);
  }
  std::optional<std::int32_t> token_to_id(std::string_view token) const override {
    return token_to_id_.invoke(
        [](py::object& r) {
          return r.is_none() ? std::nullopt : std::optional<std::int32_t>(r.cast<std::int32_t>());
        },
        token);
  }
  std::size_t count(std::string_view text) const override {
    return count_.call<std::size_t>(text);
  }

 private:
  PyCallable encode_, decode_, token_to_id_, count_;
};

}  // namespace

namespace {
std::mutex& leases_mutex() {
  static std::mutex m;
  return m;
}
std::unordered_set<const void*>& leases() {
  static std::unordered_set<const void*> s;
  return s;
}
}  // namespace

SourceLease::SourceLease(const void* source) : source_(source) {
  std::lock_guard<std::mutex> lock(leases_mutex());
  if (!leases().insert(source).second)
    throw InputError("this TextSource is being read by another call: a source serves one call at "
                     "a time (make one source per call, e.g. glyph.text_source(path) in each thread)");
}

SourceLease::~SourceLease() {
  std::lock_guard<std::mutex> lock(leases_mutex());
  leases().erase(source_);
}

std::unique_ptr<TextCodec> codec_of(py::handle tokenizer) {
  if (py::isinstance<Tokenizer>(tokenizer))
    return std::make_unique<TokenizerCodec>(tokenizer.cast<Tokenizer>());
  py::object adapter = py::module_::import("glyph._tokenizers").attr("as_codec")(tokenizer);
  return std::make_unique<PyTextCodec>(std::move(adapter));
}

}  // namespace glyph::py_support
