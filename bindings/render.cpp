// Bindings for the renderer. Pages are shared with Python zero-copy: Page.pixels is a numpy view
// on the C++ buffer that keeps the page alive. RenderConfig's attributes come from its field
// table, so every key is an attribute with the same checks as in a config file.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "glyph/glyph.h"
#include "support.h"

namespace py = pybind11;
using namespace glyph;
using namespace glyph::py_support;

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

py::list pages_to_list(std::vector<Page>&& pages) {
  py::list out;
  for (auto& p : pages) out.append(std::make_shared<Page>(std::move(p)));
  return out;
}

py::object json_loads(const std::string& text) {
  return py::module_::import("json").attr("loads")(text);
}
std::string json_dumps(py::handle value) {
  return py::module_::import("json").attr("dumps")(value).cast<std::string>();
}

const char* kind_name(FieldKind k) {
  switch (k) {
    case FieldKind::kNumber: return "number";
    case FieldKind::kInteger: return "integer";
    case FieldKind::kLeading: return "leading";
    case FieldKind::kBool: return "bool";
    case FieldKind::kString: return "string";
    case FieldKind::kPath: return "path";
    case FieldKind::kPathList: return "path-list";
    case FieldKind::kColor: return "color";
    case FieldKind::kOptionalColor: return "optional-color";
    case FieldKind::kAlignment: return "alignment";
    case FieldKind::kPageSize: return "page-size";
  }
  return "?";
}

bool numeric(FieldKind k) {
  return k == FieldKind::kNumber || k == FieldKind::kInteger || k == FieldKind::kLeading;
}

// A key's value as its Python attribute shows it: the JSON value, with Alignment as the enum and
// page-size as a (width, height) tuple.
py::object attribute(const RenderConfig& c, const ConfigField& f) {
  py::object v = json_loads(c.get(f.key));
  if (f.kind == FieldKind::kAlignment) return py::cast(parse_alignment(v.cast<std::string>()));
  if (f.kind == FieldKind::kPageSize) return py::tuple(v);
  return v;
}

// pathlib.Path and other os.PathLike values as str (os.fspath), alone or in a list: what json can
// write. Anything else is left for the key's own check.
py::object fs_strings(py::handle v) {
  const py::module_ os = py::module_::import("os");
  const auto one = [&](py::handle x) -> py::object {
    if (py::isinstance(x, os.attr("PathLike"))) return os.attr("fspath")(x);
    return py::reinterpret_borrow<py::object>(x);
  };
  if (!py::isinstance<py::list>(v) && !py::isinstance<py::tuple>(v)) return one(v);
  py::list out;
  for (py::handle item : v) out.append(one(item));
  return out;
}

// A value as the config's JSON codec takes it: Alignment as its name, page-size as a list,
// os.PathLike as str, numpy scalars and the like as float (whole numbers stay whole for integer
// keys, which check that); a NaN or infinity is refused here, naming the key (JSON has no token
// for it).
py::object json_ready(const ConfigField& f, py::object v) {
  if (f.kind == FieldKind::kAlignment && py::isinstance<Alignment>(v))
    v = py::str(alignment_name(v.cast<Alignment>()));
  else if (f.kind == FieldKind::kPageSize && (py::isinstance<py::tuple>(v) || py::isinstance<py::list>(v)))
    v = py::list(v);
  else if (f.kind == FieldKind::kPath || f.kind == FieldKind::kPathList)
    v = fs_strings(v);
  else if (numeric(f.kind) && !v.is_none() && !PyBool_Check(v.ptr()) && !PyLong_Check(v.ptr()) &&
           !PyFloat_Check(v.ptr()) && !PyUnicode_Check(v.ptr()) && PyNumber_Check(v.ptr()))
    v = py::float_(v);
  if (PyFloat_Check(v.ptr()) && !std::isfinite(v.cast<double>()))
    throw ConfigError("config key '" + std::string(f.key) + "': must be a finite number, got " +
                      py::repr(v).cast<std::string>());
  return v;
}

// Assigns through the same codec a config file uses (errors name the key).
void set_attribute(RenderConfig& c, const ConfigField& f, py::object v) {
  c.set(f.key, json_dumps(json_ready(f, std::move(v))));
}

RenderConfig config_from_dict(py::handle d, const std::string& base_dir) {
  if (!py::isinstance(d, py::module_::import("collections.abc").attr("Mapping")))
    throw py::type_error("config must be a dict of Glyph keys, got " +
                         py::str(py::type::handle_of(d).attr("__name__")).cast<std::string>());
  py::dict clean;  // each known key's value made JSON-ready (unknown keys: the codec names them)
  for (auto item : py::reinterpret_borrow<py::object>(d).attr("items")()) {
    auto kv = item.cast<py::tuple>();
    py::object value = kv[1];
    if (py::isinstance<py::str>(kv[0])) {
      const std::string key = kv[0].cast<std::string>();
      bool known = false;
      for (const ConfigField& f : RenderConfig::fields())
        if (f.key == key) value = json_ready(f, value), known = true;
      if (!known && !PyBool_Check(value.ptr()) && !PyLong_Check(value.ptr()) &&
          !PyFloat_Check(value.ptr()) && !PyUnicode_Check(value.ptr()) && PyNumber_Check(value.ptr()))
        value = py::float_(value);  // so that the codec gets to name the unknown key
    }
    clean[kv[0]] = value;
  }
  return RenderConfig::from_json(json_dumps(clean), base_dir);
}

// PNG arguments as Python passes them: compression None = the default (-1), png_color a name.
int png_level(std::optional<int> level) { return level ? *level : kPngDefaultCompression; }
PngColor png_color_arg(const std::string& name) {
  try {
    return parse_png_color(name, "png_color");
  } catch (const ConfigError&) {
    throw InputError("png_color must be \"auto\" (gray or palette when exact, else RGB) or \"rgb\" "
                     "(always 24-bit RGB), got \"" + name + "\"");
  }
}

// Page.to_png_bytes (and the image Jupyter shows): the PNG file's bytes, encoded without the GIL.
py::bytes page_png_bytes(const Page& p, std::optional<int> level, const std::string& png_color) {
  const PngColor color = png_color_arg(png_color);
  std::vector<unsigned char> b;
  {
    py::gil_scoped_release release;
    b = encode_png(p, png_level(level), color);
  }
  return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
}

RenderStats with_surrogates(RenderStats s, const Utf8& text) {
  s.invalid_utf8 += text.replaced();  // lone surrogates of a str count as invalid text too
  return s;
}

// A Python reader as a TextSource: read() returns the next piece (bytes or str; empty at the
// end), rewind() starts again. Both are called with the GIL taken, from the rendering thread.
class PyReaderSource : public TextSource {
 public:
  PyReaderSource(py::object read, py::object rewind, std::string name)
      : read_(std::move(read)), rewind_(std::move(rewind)), name_(std::move(name)) {}

  std::size_t read(char* buf, std::size_t n) override {
    while (pos_ == piece_.size()) {
      if (done_) return 0;
      std::size_t replaced = 0;
      piece_ = read_.invoke([&](py::object& r) {
        if (r.is_none()) return std::string();
        Utf8 u(r, TextPolicy::kReplaceSurrogates);  // TypeError naming anything else
        replaced = u.replaced();
        return u.str();
      });
      pos_ = 0;
      replaced_ += replaced;
      if (piece_.empty()) done_ = true;
    }
    const std::size_t k = std::min(n, piece_.size() - pos_);
    std::memcpy(buf, piece_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  void rewind() override {
    rewind_.call();
    piece_.clear();
    pos_ = 0;
    done_ = false;
    replaced_ = 0;
  }
  std::string name() const override { return name_; }
  // Lone surrogates replaced in str pieces since the last rewind.
  std::size_t replaced() const { return replaced_; }

 private:
  PyCallable read_, rewind_;
  std::string name_;
  std::string piece_;
  std::size_t pos_ = 0;
  bool done_ = false;
  std::size_t replaced_ = 0;
};

// The text argument of the render calls: str or bytes (viewed), or a TextSource.
class TextArg {
 public:
  explicit TextArg(py::handle text) {
    if (py::isinstance<TextSource>(text)) {
      source_ = text.cast<std::shared_ptr<TextSource>>();
      lease_.emplace(source_.get());
    } else {
      utf8_.emplace(text, TextPolicy::kReplaceSurrogates);
      source_ = std::make_shared<StringTextSource>(utf8_->view());
    }
  }
  TextSource& source() { return *source_; }
  RenderStats fix(RenderStats s) const {
    if (utf8_) return with_surrogates(std::move(s), *utf8_);
    if (auto* r = dynamic_cast<const PyReaderSource*>(source_.get())) s.invalid_utf8 += r->replaced();
    return s;
  }

 private:
  std::optional<Utf8> utf8_;
  std::shared_ptr<TextSource> source_;
  std::optional<SourceLease> lease_;  // after source_: released before the source is dropped
};

}  // namespace

void init_render(py::module_& m) {
  py::enum_<Alignment>(m, "Alignment")
      .value("LEFT", Alignment::kLeft)
      .value("CENTER", Alignment::kCenter)
      .value("RIGHT", Alignment::kRight)
      .value("JUSTIFY", Alignment::kJustify);

  py::class_<ConfigField> field(m, "ConfigField", "One key of the render config's field table.");
  field.def_property_readonly("key", [](const ConfigField& f) { return std::string(f.key); })
      .def_property_readonly("attr", [](const ConfigField& f) { return std::string(f.attr); })
      .def_property_readonly("kind", [](const ConfigField& f) { return kind_name(f.kind); })
      .def_readonly("extension", &ConfigField::extension)
      .def_property_readonly("doc", [](const ConfigField& f) { return std::string(f.doc); });
  add_record_methods(field, {"key", "attr", "kind", "extension", "doc"}, false);

  py::class_<RenderConfig> cfg(m, "RenderConfig", R"doc(
Rendering config with every key of Glyph's config files (kebab-case JSON, same defaults). Each key
is also an attribute (font-size -> font_size), checked as the config file would be.

    cfg = glyph.RenderConfig.from_file("config_en.json")
    cfg = glyph.RenderConfig.from_dict({"font-size": 10, "dpi": 96})
    cfg = glyph.RenderConfig.glyph_default()    # Glyph's searched config with DejaVu Sans
    cfg.font_size = 10
)doc");
  cfg.def(py::init<>(), "Reference defaults (A4, margins 20, 9 pt, JUSTIFY, 72 dpi); no font set.")
      .def_static("glyph_default", &RenderConfig::glyph_default,
                  "Glyph's config_en.json with a shipped free font (and a CJK fallback if found).")
      .def_static(
          "from_json",
          [](const std::string& json, const PathArg& base_dir) {
            return RenderConfig::from_json(json, path_arg(base_dir));
          },
          py::arg("json"), py::arg("base_dir") = "")
      .def_static(
          "from_file", [](const PathArg& path) { return RenderConfig::from_file(path_arg(path)); },
          py::arg("path"))
      .def_static(
          "from_dict",
          [](py::handle d, const PathArg& base_dir) { return config_from_dict(d, path_arg(base_dir)); },
          py::arg("config"), py::arg("base_dir") = "",
                  "Glyph-style dict (kebab-case keys) -> RenderConfig; missing keys keep the "
                  "defaults. A relative font path resolves against base_dir.")
      .def("to_json", &RenderConfig::to_json, py::arg("indent") = 2)
      .def("to_dict", [](const RenderConfig& c) { return json_loads(c.to_json(-1)); },
           "The config as Glyph's JSON keys (what save() writes).")
      .def("save", [](const RenderConfig& c, const PathArg& path) { c.save(path_arg(path)); },
           py::arg("path"))
      .def("set", &RenderConfig::set, py::arg("key"), py::arg("json_value"),
           "Set one key from its JSON text, e.g. cfg.set('font-size', '10').")
      .def("get", &RenderConfig::get, py::arg("key"),
           "One key's value as JSON text, e.g. cfg.get('font-size') == '9.0'.")
      .def("number", [](const RenderConfig& c, const std::string& n) { return c.number(n); },
           py::arg("name"),
           "A numeric key or derived quantity (leading, font-px, frame-width, text-width, ...).")
      .def("evaluation_layout", &RenderConfig::evaluation_layout,
           "A copy laid out as Glyph's evaluation scripts render a benchmark context: the whole "
           "text one paragraph (paragraph-lines 0) and each tab four no-break spaces (tab-nbsp "
           "4); every other key kept.")
      .def("is_evaluation_layout", &RenderConfig::is_evaluation_layout,
           "Whether paragraph-lines and tab-nbsp are those of evaluation_layout().")
      .def("validate", &RenderConfig::validate)
      .def_static("keys", &RenderConfig::keys)
      .def_static("fields", &RenderConfig::fields, "The field table: one ConfigField per key.")
      .def_property_readonly("leading", &RenderConfig::leading)
      .def("__copy__", [](const RenderConfig& c) { return RenderConfig(c); })
      .def("__deepcopy__", [](const RenderConfig& c, py::dict) { return RenderConfig(c); })
      .def("__repr__", [](const RenderConfig& c) { return "RenderConfig(" + c.to_json(-1) + ")"; })
      // equal when every key is (what save() would write); anything else compares unequal
      // (is_operator: NotImplemented); unhashable, as a mutable value is
      .def(
          "__eq__",
          [](const RenderConfig& a, const RenderConfig& b) { return a.to_json(-1) == b.to_json(-1); },
          py::is_operator(), py::arg("other"))
      // pickled as its JSON (font paths as saved, absolute): multiprocessing and
      // ProcessPoolExecutor workers get an equal config
      .def(py::pickle([](const RenderConfig& c) { return c.to_json(-1); },
                      [](const std::string& json) { return RenderConfig::from_json(json); }));
  for (const ConfigField& f : RenderConfig::fields()) {
    const std::string doc = std::string(f.key) + ": " + std::string(f.doc);
    cfg.def_property(
        std::string(f.attr).c_str(), [f](const RenderConfig& c) { return attribute(c, f); },
        [f](RenderConfig& c, py::object v) { set_attribute(c, f, std::move(v)); },
        doc.c_str());
  }
  deprecated_static(cfg, "default", "glyph_default");

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
          [](const Page& p, const PathArg& path, std::optional<int> level,
             const std::string& png_color) {
            const PngColor color = png_color_arg(png_color);
            py::gil_scoped_release release;
            write_png(p, path_arg(path), png_level(level), color);
          },
          py::arg("path"), py::arg("compression") = py::none(), py::arg("png_color") = "auto",
          "Write a PNG, atomically. compression: 0..9, None = level 3 for RGB, 1 for gray/palette "
          "data. png_color: \"auto\" (8-bit gray or a palette when that is exact, else RGB) or "
          "\"rgb\" (always 24-bit RGB). The decoded pixels are the page's in both.")
      .def("to_png_bytes", &page_png_bytes, py::arg("compression") = py::none(),
           py::arg("png_color") = "auto",
           "The PNG file's bytes (same encoder and arguments as save()).")
      .def(
          "_repr_png_",
          [](const Page& p) { return page_png_bytes(p, std::nullopt, "auto"); },
          "The page as PNG bytes (the default encoding): Jupyter/IPython show a Page as an image.")
      .def(
          "to_pil",
          [](const PagePtr& p) {
            return py::module_::import("PIL.Image").attr("fromarray")(pixels_view(p), "RGB");
          },
          "A PIL.Image (RGB) copy of the page (needs Pillow).")
      .def("__repr__", [](const Page& p) {
        return "<glyph.Page " + std::to_string(p.index + 1) + ": " + std::to_string(p.width) + "x" +
               std::to_string(p.height) + ", chars [" + std::to_string(p.char_begin) + ", " +
               std::to_string(p.char_end) + "), " + std::to_string(p.visual_tokens) +
               " visual tokens>";
      });

  py::class_<LineInfo> line(m, "LineInfo", "One laid-out line: text, position, character span.");
  line.def_readonly("text", &LineInfo::text)
      .def_readonly("x", &LineInfo::x)
      .def_readonly("baseline", &LineInfo::baseline)
      .def_readonly("width", &LineInfo::width)
      .def_readonly("char_begin", &LineInfo::char_begin)
      .def_readonly("char_end", &LineInfo::char_end);
  add_record_methods(line, {"text", "x", "baseline", "width", "char_begin", "char_end"}, false);
  py::class_<PageLayout> layout(m, "PageLayout", "The lines of one page.");
  layout.def_readonly("lines", &PageLayout::lines)
      .def_readonly("char_begin", &PageLayout::char_begin)
      .def_readonly("char_end", &PageLayout::char_end);
  add_record_methods(layout, {"lines", "char_begin", "char_end"}, false);

  py::class_<RenderStats> stats(m, "RenderStats", "What rendering one text produced and found.");
  stats.def_readonly("pages", &RenderStats::pages)
      .def_readonly("characters", &RenderStats::characters, "code points of the decoded text")
      .def_readonly("invalid_utf8", &RenderStats::invalid_utf8,
                    "invalid UTF-8 sequences and lone surrogates, each replaced by U+FFFD")
      .def_readonly("removed", &RenderStats::removed,
                    "U+00AD, U+200B and control characters dropped")
      .def_readonly("missing_glyphs", &RenderStats::missing_glyphs,
                    "characters no font has (drawn as the .notdef box)")
      .def_property_readonly(
          "missing_codepoints",
          [](const RenderStats& s) {
            return std::vector<std::uint32_t>(s.missing_codepoints.begin(),
                                              s.missing_codepoints.end());
          },
          "distinct missing code points, at most 64")
      .def_readonly("visual_tokens", &RenderStats::visual_tokens, "summed over the pages");
  add_record_methods(stats,
                     {"pages", "characters", "invalid_utf8", "removed", "missing_glyphs",
                      "missing_codepoints", "visual_tokens"},
                     /*mapping_access=*/true);

  py::class_<TextSource, std::shared_ptr<TextSource>> src_cls(m, "TextSource", R"doc(
Text read in pieces, for texts too large to hold: the render calls take one wherever they take a
str. Only the current paragraph (Glyph's 30 input lines) and a page or two are held; the pages,
spans and stats are those of the whole text. The renderer reads a source twice (once to find
whether the text holds a CJK ideograph, as Glyph decides the wrapping mode for the whole text).
A source serves one render call at a time.

    src = glyph.TextSource.from_file("big.txt")
    renderer.render_each(src, lambda page: page.save(f"out/{page.file_name}"))
    glyph.text_source(open("big.txt", "rb"))   # a file object, a path, a callable, chunks ...
)doc");
  py::class_<FileTextSource, TextSource, std::shared_ptr<FileTextSource>>(m, "_FileTextSource");
  py::class_<PyReaderSource, TextSource, std::shared_ptr<PyReaderSource>>(m, "_ReaderTextSource");
  src_cls
      .def_static(
          "from_file",
          [](const PathArg& path) -> std::shared_ptr<TextSource> {
            return std::make_shared<FileTextSource>(path_arg(path));
          },
          py::arg("path"), "A UTF-8 text file read in 1 MiB chunks (IoError naming it).")
      .def_static(
          "from_reader",
          [](py::object read, py::object rewind, const std::string& name) -> std::shared_ptr<TextSource> {
            if (!PyCallable_Check(read.ptr()) || !PyCallable_Check(rewind.ptr()))
              throw py::type_error("TextSource.from_reader needs two callables: read() and rewind()");
            return std::make_shared<PyReaderSource>(std::move(read), std::move(rewind), name);
          },
          py::arg("read"), py::arg("rewind"), py::arg("name") = "text",
          "read() -> the next piece (bytes or str; empty or None at the end), rewind() -> start "
          "again. Pieces may cut UTF-8 sequences anywhere.")
      .def(
          "read",
          [](TextSource& t, std::size_t n) {
            // a buffer of n bytes is allocated up front: read(10**12) reads in 64 MiB steps
            n = std::min(n, std::size_t{64} << 20);
            SourceLease lease(&t);
            std::string buf(n, '\0');
            std::size_t got;
            {
              py::gil_scoped_release release;
              got = t.read(buf.data(), n);
            }
            return py::bytes(buf.data(), got);
          },
          py::arg("n") = std::size_t{1} << 20,
          "Up to n bytes (at most 64 MiB a call); b'' at the end.")
      .def("rewind", [](TextSource& t) {
            SourceLease lease(&t);
            py::gil_scoped_release release;
            t.rewind();
          }, "Start again at the first byte.")
      .def_property_readonly("name", &TextSource::name)
      .def("__repr__", [](const TextSource& t) { return "<glyph.TextSource " + t.name() + ">"; });

  py::class_<Renderer>(m, "_Renderer")
      .def(py::init<RenderConfig>(), py::arg("config"))
      .def(py::init<>())
      // pickled as its config (fonts are opened again where it is unpickled)
      .def(py::pickle([](const Renderer& r) { return r.config().to_json(-1); },
                      [](const std::string& json) { return Renderer(RenderConfig::from_json(json)); }))
      // a copy: the renderer is immutable, and an edit to the config it hands out would change
      // later renders unchecked (and race with other threads)
      .def_property_readonly("config", [](const Renderer& r) { return RenderConfig(r.config()); },
                             "A copy of the renderer's config (editing it changes nothing here).")
      .def(
          "render",
          [](const Renderer& r, py::handle text) {
            TextArg t(text);
            RenderResult res;
            {
              py::gil_scoped_release release;
              res.stats = r.render_each(t.source(), [&](Page&& p) { res.pages.push_back(std::move(p)); });
            }
            return py::make_tuple(pages_to_list(std::move(res.pages)), t.fix(res.stats));
          },
          py::arg("text"))
      .def(
          "render_each",
          [](const Renderer& r, py::handle text, py::object callback) {
            TextArg t(text);
            if (callback.is_none()) throw py::type_error("render_each needs a callback");
            PyCallable fn(std::move(callback));
            RenderStats st;
            {
              py::gil_scoped_release release;
              st = r.render_each(t.source(), [&](Page&& p) {
                fn.invoke([](py::object&) {}, std::make_shared<Page>(std::move(p)));
              });
            }
            return t.fix(st);
          },
          py::arg("text"), py::arg("callback"))
      .def(
          "render_to_dir",
          [](const Renderer& r, py::handle text, const PathArg& out_dir,
             const std::string& unique_id, std::optional<int> level) {
            TextArg t(text);
            RenderStats st;
            std::vector<std::string> paths;
            {
              py::gil_scoped_release release;
              paths = r.render_to_dir(t.source(), path_arg(out_dir), unique_id, png_level(level), &st);
            }
            py::list names;
            for (const std::string& p : paths) names.append(path_str(p));
            return py::make_tuple(names, t.fix(st));
          },
          py::arg("text"), py::arg("out_dir"), py::arg("unique_id") = "",
          py::arg("compression") = py::none())
      .def(
          "layout",
          [](const Renderer& r, py::handle text) {
            TextArg t(text);
            py::gil_scoped_release release;
            return r.layout(t.source());
          },
          py::arg("text"))
      .def(
          "render_batch",
          [](const Renderer& r, const py::sequence& texts, int threads) {
            std::vector<std::string> v;
            std::vector<std::size_t> replaced;
            v.reserve(texts.size());
            for (auto t : texts) {
              Utf8 s(t, TextPolicy::kReplaceSurrogates);
              v.push_back(s.str());
              replaced.push_back(s.replaced());
            }
            std::vector<RenderResult> res;
            {
              py::gil_scoped_release release;
              res = r.render_batch(v, threads);
            }
            py::list out;
            for (std::size_t i = 0; i < res.size(); ++i) {
              res[i].stats.invalid_utf8 += replaced[i];
              out.append(py::make_tuple(pages_to_list(std::move(res[i].pages)), res[i].stats));
            }
            return out;
          },
          py::arg("texts"), py::arg("threads") = 0);

  m.def("smart_resize", [](int h, int w) {
    auto s = smart_resize(h, w);
    return py::make_tuple(s.height, s.width);
  }, py::arg("height"), py::arg("width"), "GLM-4.1V smart_resize -> (height, width)");
  m.def("visual_tokens", [](int h, int w) { return visual_tokens(h, w); }, py::arg("height"),
        py::arg("width"), "GLM-4.1V visual tokens for an image of this size");
  m.def(
      "encode_png",
      [](py::handle pixels, std::optional<int> level, const std::string& png_color) {
        const PngColor color = png_color_arg(png_color);
        py::array a = py::array::ensure(pixels);
        if (!a || !a.dtype().is(py::dtype::of<std::uint8_t>()) || a.ndim() != 3 || a.shape(2) != 3)
          throw InputError("encode_png needs an (height, width, 3) uint8 array, got " +
                           py::repr(pixels).cast<std::string>().substr(0, 80));
        auto c = py::array_t<std::uint8_t, py::array::c_style>::ensure(a);  // copies if strided
        if (c.shape(0) > 0x7FFFFFFF || c.shape(1) > 0x7FFFFFFF)
          throw InputError("encode_png: image too large for a PNG");
        const int h = static_cast<int>(c.shape(0)), w = static_cast<int>(c.shape(1));
        std::vector<unsigned char> b;
        {
          py::gil_scoped_release release;
          b = encode_png(c.data(), w, h, png_level(level), color);
        }
        return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
      },
      py::arg("pixels"), py::arg("compression") = py::none(), py::arg("png_color") = "auto",
      "Any (height, width, 3) uint8 RGB array as PNG bytes, with the encoder Page.save uses.");
  m.def("default_font_path", &default_font_path);
  m.def(
      "remove_stale_pages",
      [](const PathArg& dir, std::size_t pages) { return remove_stale_pages(path_arg(dir), pages); },
      py::arg("dir"), py::arg("pages"),
      "Removes page_NNN.png files numbered past `pages` in `dir` (an earlier, longer render's); "
      "returns how many. render_to_dir does this itself.");
  m.def("find_cjk_font", &find_cjk_font);
  m.def("hardware_threads", &hardware_threads);
}
