// glyph._core: the compiled half of `import glyph` (no torch). pybind11 code only; one file per
// part, the shared mechanisms in support.{h,cpp}.
#include <pybind11/pybind11.h>

#include "support.h"

namespace py = pybind11;

void init_render(py::module_& m);
void init_tokenizer(py::module_& m);
void init_search(py::module_& m);
void init_vlm_results(py::module_& m);

PYBIND11_MODULE(_core, m) {
  m.doc() = "glyphcpp core: renderer, tokenizer and search (no torch needed)";
  glyph::py_support::register_errors(m);
  init_render(m);
  init_tokenizer(m);
  init_search(m);
  init_vlm_results(m);
}
