// What every binding file shares: one mechanism per job across the C++/Python line.
//   - errors: each glyph error type maps to one Python exception, created once in glyph._core
//   - text: Python str/bytes -> UTF-8, the policy explicit (text to render vs tokenizer input)
//   - paths: str, bytes or os.PathLike, a file name that is not UTF-8 too
//   - PyCallable: a Python callable called from C++ (GIL, holding, errors)
//   - records: result structs as read-only classes (the dicts they replace still readable)
//   - deprecated aliases for renamed methods
//   - codec_of: any tokenizer a user passes, as a glyph::TextCodec
// pybind11 code only; compiled into glyph._core and glyph._vlm alike.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl/filesystem.h>

#include <cstddef>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "glyph/common/error.h"
#include "glyph/tokenizer/codec.h"

namespace glyph::py_support {

namespace py = pybind11;

// ---- errors --------------------------------------------------------------------------------

// Creates glyph._core's exception classes (GlyphError and one per C++ error type; every one
// derives from GlyphError) and registers the translator. Called once, by glyph._core.
void register_errors(py::module_& core);
// In another extension (glyph._vlm): the same translation, with glyph._core's classes.
void register_errors_in(py::module_& m);

// ---- paths ---------------------------------------------------------------------------------

// A file argument as Python gives it: str, bytes or os.PathLike (pathlib.Path), through
// os.fsencode, so a file name that is not UTF-8 (a str with surrogate escapes) reaches the file
// system as its bytes. The C++ side takes path_arg(p): the native byte string.
using PathArg = std::filesystem::path;
inline std::string path_arg(const PathArg& p) { return p.string(); }
// A path C++ made, back as a str (os.fsdecode: bytes that are not UTF-8 as surrogate escapes).
inline py::str path_str(const std::string& p) {
  PyObject* s = PyUnicode_DecodeFSDefaultAndSize(p.data(), static_cast<py::ssize_t>(p.size()));
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

// ---- text ----------------------------------------------------------------------------------

enum class TextPolicy {
  // Tokenizer input must be exact: a str holding a lone surrogate raises UnicodeEncodeError
  // (as `tokenizers` does). str is not copied: the view is the str's own UTF-8.
  kExact,
  // Text to render: each lone surrogate becomes U+FFFD (one character for one, so offsets stay
  // Python string indices) and is counted.
  kReplaceSurrogates,
};

// UTF-8 of a str or bytes (TypeError naming the type otherwise). Keeps what it views alive.
class Utf8 {
 public:
  Utf8(py::handle text, TextPolicy policy);
  std::string_view view() const { return owns_ ? std::string_view(storage_) : view_; }
  std::string str() const { return std::string(view()); }
  std::size_t replaced() const { return replaced_; }  // lone surrogates replaced

 private:
  py::object keep_;       // the str or bytes viewed
  std::string storage_;   // the re-encoded text, when surrogates were replaced
  std::string_view view_;
  bool owns_ = false;
  std::size_t replaced_ = 0;
};

// A TextSource serves one call at a time (each call rewinds it and reads it to the end): a call
// holds a SourceLease for as long as it reads, and a second call on the same source while the
// first reads fails with InputError instead of both getting part of the text.
class SourceLease {
 public:
  explicit SourceLease(const void* source);
  ~SourceLease();
  SourceLease(const SourceLease&) = delete;
  SourceLease& operator=(const SourceLease&) = delete;

 private:
  const void* source_;
};

// ---- Python callables called from C++ ------------------------------------------------------

// What becomes of a Python exception raised inside a callable. kPropagate rethrows it
// unchanged, so it reaches the Python caller as raised; a policy function may translate it
// instead (it must throw).
using ErrorPolicy = void (*)(py::error_already_set& error);
[[noreturn]] void propagate(py::error_already_set& error);

// A Python callable held by C++ code that may copy, call and drop it on any thread: every call
// takes the GIL, and the last copy releases the object with the GIL held.
class PyCallable {
 public:
  PyCallable() = default;
  // Needs the GIL. A None `fn` gives an empty PyCallable; anything else not callable is a
  // TypeError.
  explicit PyCallable(py::object fn, ErrorPolicy on_error = propagate);
  explicit operator bool() const { return static_cast<bool>(fn_); }

  // Calls fn(args...) and returns convert(result), both with the GIL held. Pass C++ values: they
  // become Python objects only once the GIL is taken (a py::object made by the caller may be
  // made without it).
  template <class Convert, class... Args>
  auto invoke(Convert&& convert, Args&&... args) const {
    if (!fn_) throw InputError("a callback was called but none was given");
    py::gil_scoped_acquire gil;
    try {
      py::object result = (*fn_)(std::forward<Args>(args)...);
      return convert(result);
    } catch (py::error_already_set& e) {
      on_error_(e);
      throw;  // a policy that returned: keep the error
    }
  }
  // Calls fn(args...) and casts the result to R (nothing for void).
  template <class R = void, class... Args>
  R call(Args&&... args) const {
    return invoke(
        [](py::object& r) -> R {
          if constexpr (!std::is_void_v<R>) return r.cast<R>();
        },
        std::forward<Args>(args)...);
  }

 private:
  std::shared_ptr<py::object> fn_;
  ErrorPolicy on_error_ = propagate;
};

// ---- records -------------------------------------------------------------------------------

// For a result struct bound as a read-only class: to_dict(), a repr listing the fields, and,
// for one release, read access by key (stats["pages"]) with a DeprecationWarning, for code
// written when these were dicts.
void add_record_methods(py::object cls, std::initializer_list<const char*> fields,
                        bool mapping_access);

// ---- deprecated aliases ----------------------------------------------------------------------

// cls.old_name keeps working for one release: it warns (DeprecationWarning naming new_name)
// and calls cls.new_name with the same arguments.
void deprecated_method(py::object cls, const char* old_name, const char* new_name);
void deprecated_static(py::object cls, const char* old_name, const char* new_name);
// Emits the DeprecationWarning those aliases emit.
void warn_deprecated(const std::string& old_name, const std::string& new_name);

// ---- tokenizers ------------------------------------------------------------------------------

// The codec of any tokenizer: a glyph.Tokenizer directly; anything else (Hugging Face
// `tokenizers`, transformers, ...) through glyph._tokenizers.as_codec, its methods called with
// the GIL taken. Needs the GIL.
std::unique_ptr<TextCodec> codec_of(py::handle tokenizer);

}  // namespace glyph::py_support
