// glyph._core: the compiled half of `import glyph`. pybind11 code only; one file per part.
#include <pybind11/pybind11.h>

#include "glyph/common/error.h"

namespace py = pybind11;

void init_render(py::module_& m);
#ifdef GLYPH_HAS_TOKENIZER
void init_tokenizer(py::module_& m);
#endif
#ifdef GLYPH_HAS_SEARCH
void init_search(py::module_& m);
#endif

PYBIND11_MODULE(_core, m) {
  m.doc() = "glyphcpp core: renderer, tokenizer and search (no torch needed)";

  // One Python exception per C++ error type; all derive from glyph.GlyphError.
  static py::exception<glyph::Error> base(m, "GlyphError", PyExc_RuntimeError);
  static py::exception<glyph::ConfigError> config_error(m, "ConfigError", base.ptr());
  static py::exception<glyph::FontError> font_error(m, "FontError", base.ptr());
  static py::exception<glyph::IoError> io_error(m, "GlyphIOError", base.ptr());
  static py::exception<glyph::InputError> input_error(m, "InputError", base.ptr());
  static py::exception<glyph::TokenizerError> tok_error(m, "TokenizerError", base.ptr());
  static py::exception<glyph::ModelLoadError> model_error(m, "ModelLoadError", base.ptr());
  static py::exception<glyph::SearchError> search_error(m, "SearchError", base.ptr());
  static py::exception<glyph::NotImplementedError> ni_error(m, "GlyphNotImplementedError",
                                                            base.ptr());
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const glyph::ConfigError& e) {
      config_error(e.what());
    } catch (const glyph::FontError& e) {
      font_error(e.what());
    } catch (const glyph::IoError& e) {
      io_error(e.what());
    } catch (const glyph::InputError& e) {
      input_error(e.what());
    } catch (const glyph::TokenizerError& e) {
      tok_error(e.what());
    } catch (const glyph::ModelLoadError& e) {
      model_error(e.what());
    } catch (const glyph::SearchError& e) {
      search_error(e.what());
    } catch (const glyph::NotImplementedError& e) {
      ni_error(e.what());
    } catch (const glyph::Error& e) {
      base(e.what());
    }
  });

  init_render(m);
#ifdef GLYPH_HAS_TOKENIZER
  init_tokenizer(m);
#endif
#ifdef GLYPH_HAS_SEARCH
  init_search(m);
#endif
}
