// Bindings for the renderer. Pages are shared with Python zero-copy: Page.pixels is a numpy view
// on the C++ buffer that keeps the page alive.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>

#include "glyph/glyph.h"

namespace py = pybind11;
using namespace glyph;

namespace {

using PagePtr = std::shared_ptr<Page>;

py::array pixels_view(const PagePtr& page) {
  py::object owner = py::cast(page);
  return py::array(py::dtype::of<std::uint8_t>(),
                   {static_cast<py::ssize_t>(page->height), static_cast<py::ssize_t>(page->width),
                    py::ssize_t{3}},
                   {static_cast<py::ssize_t>(page->width) * 3, py::ssize_t{3}, py::ssize_t{1}},
                   page->pixels.data(), owner);
}

py::dict stats_dict(const RenderStats& s) {
  py::dict d;
  d["pages"] = s.pages;
  d["characters"] = s.characters;
  d["invalid_utf8"] = s.invalid_utf8;
  d["removed"] = s.removed;
  d["missing_glyphs"] = s.missing_glyphs;
  py::list cps;
  for (char32_t c : s.missing_codepoints) cps.append(static_cast<std::uint32_t>(c));
  d["missing_codepoints"] = cps;
  d["visual_tokens"] = s.visual_tokens;
  return d;
}

// Python str -> UTF-8 (lone surrogates, which str may hold, become U+FFFD and are counted).
std::string to_utf8(const py::handle& text) {
  if (py::isinstance<py::bytes>(text)) return text.cast<std::string>();
  if (!py::isinstance<py::str>(text))
    throw py::type_error("text must be str or bytes, got " +
                         std::string(py::str(text.get_type().attr("__name__"))));
  PyObject* bytes = PyUnicode_AsEncodedString(text.ptr(), "utf-8", "surrogatepass");
  if (!bytes) throw py::error_already_set();
  py::bytes b = py::reinterpret_steal<py::bytes>(bytes);
  return b.cast<std::string>();
}

py::list pages_to_list(std::vector<Page>&& pages) {
  py::list out;
  for (auto& p : pages) out.append(std::make_shared<Page>(std::move(p)));
  return out;
}

}  // namespace

void init_render(py::module_& m) {
  py::enum_<Alignment>(m, "Alignment")
      .value("LEFT", Alignment::kLeft)
      .value("CENTER", Alignment::kCenter)
      .value("RIGHT", Alignment::kRight)
      .value("JUSTIFY", Alignment::kJustify);

  py::class_<RenderConfig>(m, "RenderConfig", R"doc(
Rendering config with every key of Glyph's config files (kebab-case JSON, same defaults).

    cfg = glyph.RenderConfig.from_file("config_en.json")
    cfg = glyph.RenderConfig.from_dict({"font-size": 10, "dpi": 96})
    cfg = glyph.RenderConfig.default()     # Glyph's searched config with DejaVu Sans
)doc")
      .def(py::init<>(), "Reference defaults (A4, margins 20, 9 pt, JUSTIFY, 72 dpi); no font set.")
      .def_static("default", &RenderConfig::glyph_default,
                  "Glyph's config_en.json with a shipped free font (and a CJK fallback if found).")
      .def_static("from_json", &RenderConfig::from_json, py::arg("json"), py::arg("base_dir") = "")
      .def_static("from_file", &RenderConfig::from_file, py::arg("path"))
      .def("to_json", &RenderConfig::to_json, py::arg("indent") = 2)
      .def("save", &RenderConfig::save, py::arg("path"))
      .def("set", &RenderConfig::set, py::arg("key"), py::arg("json_value"),
           "Set one key from its JSON text, e.g. cfg.set('font-size', '10').")
      .def("validate", &RenderConfig::validate)
      .def_static("keys", &RenderConfig::keys)
      .def_property_readonly("leading", &RenderConfig::leading)
      .def_property(
          "page_size",
          [](const RenderConfig& c) { return py::make_tuple(c.page_width, c.page_height); },
          [](RenderConfig& c, std::pair<double, double> wh) {
            c.page_width = wh.first;
            c.page_height = wh.second;
          })
      .def_readwrite("dpi", &RenderConfig::dpi)
      .def_readwrite("margin_x", &RenderConfig::margin_x)
      .def_readwrite("margin_y", &RenderConfig::margin_y)
      .def_readwrite("font_path", &RenderConfig::font_path)
      .def_readwrite("font_size", &RenderConfig::font_size)
      .def_readwrite("line_height", &RenderConfig::line_height)
      .def_property(
          "font_color", [](const RenderConfig& c) { return c.font_color.hex(); },
          [](RenderConfig& c, const std::string& v) { c.font_color = Rgb::parse(v, "font-color"); })
      .def_property(
          "page_bg_color", [](const RenderConfig& c) { return c.page_bg_color.hex(); },
          [](RenderConfig& c, const std::string& v) {
            c.page_bg_color = Rgb::parse(v, "page-bg-color");
          })
      .def_readwrite("alignment", &RenderConfig::alignment)
      .def_readwrite("horizontal_scale", &RenderConfig::horizontal_scale)
      .def_readwrite("first_line_indent", &RenderConfig::first_line_indent)
      .def_readwrite("left_indent", &RenderConfig::left_indent)
      .def_readwrite("right_indent", &RenderConfig::right_indent)
      .def_readwrite("space_before", &RenderConfig::space_before)
      .def_readwrite("space_after", &RenderConfig::space_after)
      .def_readwrite("border_width", &RenderConfig::border_width)
      .def_readwrite("border_padding", &RenderConfig::border_padding)
      .def_readwrite("auto_crop_width", &RenderConfig::auto_crop_width)
      .def_readwrite("auto_crop_last_page", &RenderConfig::auto_crop_last_page)
      .def_readwrite("newline_markup", &RenderConfig::newline_markup)
      .def_readwrite("fallback_font_paths", &RenderConfig::fallback_font_paths)
      .def("__copy__", [](const RenderConfig& c) { return RenderConfig(c); })
      .def("__deepcopy__", [](const RenderConfig& c, py::dict) { return RenderConfig(c); })
      .def("__repr__", [](const RenderConfig& c) { return "RenderConfig(" + c.to_json(-1) + ")"; });

  py::class_<Page, PagePtr>(m, "Page", py::buffer_protocol(),
                            "One rendered page: RGB pixels plus the source text span it shows.")
      .def_buffer([](Page& p) -> py::buffer_info {
        return py::buffer_info(p.pixels.data(), 1, py::format_descriptor<std::uint8_t>::format(), 3,
                               {static_cast<py::ssize_t>(p.height),
                                static_cast<py::ssize_t>(p.width), py::ssize_t{3}},
                               {static_cast<py::ssize_t>(p.width) * 3, py::ssize_t{3}, py::ssize_t{1}},
                               /*readonly=*/false);
      })
      .def_property_readonly("pixels", &pixels_view, "numpy uint8 array (H, W, 3), zero-copy")
      .def_readonly("width", &Page::width)
      .def_readonly("height", &Page::height)
      .def_readonly("index", &Page::index)
      .def_readonly("char_begin", &Page::char_begin)
      .def_readonly("char_end", &Page::char_end)
      .def_readonly("visual_tokens", &Page::visual_tokens)
      .def_property_readonly("size", [](const Page& p) { return py::make_tuple(p.width, p.height); })
      .def_property_readonly("file_name", &Page::file_name)
      .def(
          "save",
          [](const Page& p, const std::string& path, int level) {
            py::gil_scoped_release release;
            write_png(p, path, level);
          },
          py::arg("path"), py::arg("compression") = 3, "Write a PNG (stb_image_write).")
      .def(
          "to_png_bytes",
          [](const Page& p, int level) {
            std::vector<unsigned char> b;
            {
              py::gil_scoped_release release;
              b = encode_png(p, level);
            }
            return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
          },
          py::arg("compression") = 3)
      .def("__repr__", [](const Page& p) {
        return "<glyph.Page " + std::to_string(p.index + 1) + ": " + std::to_string(p.width) + "x" +
               std::to_string(p.height) + ", chars [" + std::to_string(p.char_begin) + ", " +
               std::to_string(p.char_end) + "), " + std::to_string(p.visual_tokens) +
               " visual tokens>";
      });

  py::class_<LineInfo>(m, "LineInfo")
      .def_readonly("text", &LineInfo::text)
      .def_readonly("x", &LineInfo::x)
      .def_readonly("baseline", &LineInfo::baseline)
      .def_readonly("width", &LineInfo::width)
      .def_readonly("char_begin", &LineInfo::char_begin)
      .def_readonly("char_end", &LineInfo::char_end)
      .def("__repr__", [](const LineInfo& l) { return "<LineInfo " + py::repr(py::str(l.text)).cast<std::string>() + ">"; });
  py::class_<PageLayout>(m, "PageLayout")
      .def_readonly("lines", &PageLayout::lines)
      .def_readonly("char_begin", &PageLayout::char_begin)
      .def_readonly("char_end", &PageLayout::char_end);

  py::class_<Renderer>(m, "_Renderer")
      .def(py::init<RenderConfig>(), py::arg("config"))
      .def(py::init<>())
      .def_property_readonly("config", &Renderer::config)
      .def(
          "render",
          [](const Renderer& r, py::handle text) {
            std::string s = to_utf8(text);
            RenderResult res;
            {
              py::gil_scoped_release release;
              res = r.render(s);
            }
            return py::make_tuple(pages_to_list(std::move(res.pages)), stats_dict(res.stats));
          },
          py::arg("text"))
      .def(
          "render_each",
          [](const Renderer& r, py::handle text, const py::function& fn) {
            std::string s = to_utf8(text);
            RenderStats st;
            {
              py::gil_scoped_release release;
              st = r.render_each(s, [&](Page&& p) {
                py::gil_scoped_acquire acquire;
                fn(std::make_shared<Page>(std::move(p)));
              });
            }
            return stats_dict(st);
          },
          py::arg("text"), py::arg("callback"))
      .def(
          "render_to_dir",
          [](const Renderer& r, py::handle text, const std::string& out_dir,
             const std::string& unique_id, int level) {
            std::string s = to_utf8(text);
            py::gil_scoped_release release;
            return r.render_to_dir(s, out_dir, unique_id, level);
          },
          py::arg("text"), py::arg("out_dir"), py::arg("unique_id") = "",
          py::arg("compression") = 3)
      .def(
          "layout",
          [](const Renderer& r, py::handle text) {
            std::string s = to_utf8(text);
            py::gil_scoped_release release;
            return r.layout(s);
          },
          py::arg("text"))
      .def(
          "render_batch",
          [](const Renderer& r, const py::list& texts, int threads) {
            std::vector<std::string> v;
            v.reserve(texts.size());
            for (auto t : texts) v.push_back(to_utf8(t));
            std::vector<RenderResult> res;
            {
              py::gil_scoped_release release;
              res = r.render_batch(v, threads);
            }
            py::list out;
            for (auto& rr : res)
              out.append(py::make_tuple(pages_to_list(std::move(rr.pages)), stats_dict(rr.stats)));
            return out;
          },
          py::arg("texts"), py::arg("threads") = 0);

  m.def("smart_resize", [](int h, int w) {
    auto s = smart_resize(h, w);
    return py::make_tuple(s.height, s.width);
  }, py::arg("height"), py::arg("width"), "GLM-4.1V smart_resize -> (height, width)");
  m.def("visual_tokens", [](int h, int w) { return visual_tokens(h, w); }, py::arg("height"),
        py::arg("width"), "GLM-4.1V visual tokens for an image of this size");
  m.def("default_font_path", &default_font_path);
  m.def("find_cjk_font", &find_cjk_font);
  m.def("hardware_threads", &hardware_threads);
}
