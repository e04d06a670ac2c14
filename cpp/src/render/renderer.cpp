#include "glyph/render/renderer.h"

#include <filesystem>
#include <mutex>
#include <optional>

#include "common/check.h"
#include "glyph/common/text_source.h"
#include "glyph/common/thread_pool.h"
#include "glyph/common/utf8.h"
#include "glyph/render/image.h"
#include "glyph/render/png.h"
#include "glyph/render/vision_tokens.h"
#include "render/font.h"
#include "render/layout.h"
#include "render/config_fields.h"
#include "render/markup.h"
#include "render/png_gray.h"
#include "render/raster.h"

namespace fs = std::filesystem;

namespace glyph {

std::string Page::file_name() const { return fmt::format("page_{:03d}.png", index + 1); }

// What one rendering call needs for itself: FreeType handles (not thread-safe) and the canvas
// pages are drawn on. Pooled, so consecutive calls reuse the glyph cache and the canvas memory.
struct Workspace {
  std::unique_ptr<FontSet> fonts;
  std::unique_ptr<LayoutEngine> layout;
  Raster raster;
  std::u32string decoded;  // one chunk of decoded text
};

struct Renderer::Impl {
  explicit Impl(RenderConfig c) : config(std::move(c)), params(config, config::validate(config)) {}
  const RenderConfig config;
  const LayoutParams params;  // refers to `config`; holds the newline markup, parsed once
  std::vector<FontData> fonts;
  Rgb markup_color;
  std::mutex pool_mutex;
  std::vector<std::unique_ptr<Workspace>> pool;  // idle workspaces, one per concurrent caller

  std::unique_ptr<Workspace> acquire() {
    {
      std::lock_guard<std::mutex> lock(pool_mutex);
      if (!pool.empty()) {
        auto ws = std::move(pool.back());
        pool.pop_back();
        return ws;
      }
    }
    auto ws = std::make_unique<Workspace>();
    ws->fonts = std::make_unique<FontSet>(fonts, config.font_size, config.dpi / 72.0);
    ws->layout = std::make_unique<LayoutEngine>(params, *ws->fonts);
    return ws;
  }
  void release(std::unique_ptr<Workspace> ws) {
    std::lock_guard<std::mutex> lock(pool_mutex);
    pool.push_back(std::move(ws));
  }
};

Renderer::Renderer() : Renderer(RenderConfig::glyph_default()) {}

Renderer::Renderer(RenderConfig config) : impl_(std::make_shared<Impl>(std::move(config))) {
  const RenderConfig& c = impl_->config;
  impl_->fonts.push_back(load_font_data(c.font_path, "font-path"));
  for (std::size_t i = 0; i < c.fallback_font_paths.size(); ++i)
    impl_->fonts.push_back(
        load_font_data(c.fallback_font_paths[i], fmt::format("fallback-font-paths[{}]", i)));
  const NewlineMarkup& m = impl_->params.markup;
  impl_->markup_color = m.has_color ? m.color : c.font_color;
  impl_->release(impl_->acquire());  // build one workspace now: font errors surface here
}

const RenderConfig& Renderer::config() const { return impl_->config; }

namespace {

// Borrows a workspace from the pool and returns it on every exit path.
struct Lease {
  Renderer::Impl* impl;
  std::unique_ptr<Workspace> ws;
  explicit Lease(Renderer::Impl* i) : impl(i), ws(i->acquire()) {}
  ~Lease() { impl->release(std::move(ws)); }
};

// Takes a page still on its one-channel canvas (the page's width x height, top-left) in place of
// the RGB Page; `meta` is the Page without pixels. Used by render_to_dir: PNG from the gray canvas.
using GraySink = std::function<void(const Raster& canvas, Page&& meta)>;

RenderStats render_pages(Renderer::Impl& impl, TextSource& source,
                         const std::function<void(Page&&)>& sink, const GraySink* gray_sink);

}  // namespace

// Whether the text decodes to a code point in U+4E00..U+9FFF (Glyph's CJK switch), from its
// bytes: such a code point is E4 B8..BF 80..BF or E5..E9 80..BF 80..BF, and those three bytes
// always decode to it, since a lead byte (E4..E9) is never taken into an earlier sequence.
namespace {

// Scans one piece; `prev` holds the last two bytes of the pieces before (0 at the start).
bool piece_has_ideograph(const unsigned char* piece, std::ptrdiff_t n, unsigned char prev[2]) {
  auto at = [&](std::ptrdiff_t i) { return i < 0 ? prev[2 + i] : piece[i]; };  // i >= -2
  for (std::ptrdiff_t i = -2; i + 2 < n; ++i) {
    const unsigned char a = at(i);
    if (a < 0xE4 || a > 0xE9) continue;
    const unsigned char b = at(i + 1), c = at(i + 2);
    if (b >= (a == 0xE4 ? 0xB8 : 0x80) && b <= 0xBF && c >= 0x80 && c <= 0xBF) return true;
  }
  if (n > 0) {
    const unsigned char last0 = at(n - 2), last1 = at(n - 1);
    prev[0] = last0;
    prev[1] = last1;
  }
  return false;
}

}  // namespace

bool has_cjk_ideograph(TextSource& source) {
  unsigned char prev[2] = {0, 0};
  if (const auto whole = source.in_memory())
    return piece_has_ideograph(reinterpret_cast<const unsigned char*>(whole->data()),
                               static_cast<std::ptrdiff_t>(whole->size()), prev);
  std::string buf(1 << 20, '\0');
  source.rewind();
  for (;;) {
    const std::size_t got = source.read(buf.data(), buf.size());
    if (got == 0) return false;
    if (piece_has_ideograph(reinterpret_cast<const unsigned char*>(buf.data()),
                            static_cast<std::ptrdiff_t>(got), prev))
      return true;
  }
}

namespace {

// Feeds the source's decoded text to the layout engine a chunk at a time.
LayoutStats layout_source(LayoutEngine& engine, TextSource& source,
                          const std::function<void(LaidPage&&)>& sink, std::size_t& invalid,
                          std::u32string& cps) {
  engine.begin(has_cjk_ideograph(source), sink);
  Utf8Decoder decoder;
  for_each_chunk(source, [&](std::string_view piece) {
    cps.clear();
    decoder.decode(piece, cps);
    engine.feed(cps);
  });
  cps.clear();
  decoder.finish(cps);
  engine.feed(cps);
  invalid = decoder.invalid_sequences();
  // Kept for the next call, unless a big text made it 4 MiB: that is not pinned to the renderer.
  if (cps.capacity() > (1u << 20)) std::u32string().swap(cps);
  return engine.end();
}

}  // namespace

RenderStats Renderer::render_each(std::string_view utf8_text,
                                  const std::function<void(Page&&)>& sink) const {
  StringTextSource source(utf8_text);
  return render_pages(*impl_, source, sink, nullptr);
}

RenderStats Renderer::render_each(TextSource& source,
                                  const std::function<void(Page&&)>& sink) const {
  return render_pages(*impl_, source, sink, nullptr);
}

namespace {

RenderStats render_pages(Renderer::Impl& impl, TextSource& source,
                         const std::function<void(Page&&)>& sink, const GraySink* gray_sink) {
  const RenderConfig& cfg = impl.config;
  Lease lease(&impl);
  FontSet& fonts = *lease.ws->fonts;
  Raster& raster = lease.ws->raster;

  RenderStats stats;
  std::size_t index = 0;
  std::size_t last_end = 0;
  // Hold one laid-out page back: only at the end do we know which page is last (auto-crop).
  std::optional<LaidPage> held;
  auto finish = [&](LaidPage&& laid, bool last) {
    Page page;
    rasterize(laid, cfg, fonts, impl.markup_color, raster);
    const bool crop_height = last && cfg.auto_crop_last_page;
    const bool on_canvas = gray_sink && raster.channels == 1 && cfg.horizontal_scale == 1.0;
    if (on_canvas) {
      const CropSize kept =
          auto_crop_size(raster.data.data(), raster.width, raster.height, raster.stride,
                         raster.channels, cfg.auto_crop_width, crop_height, cfg.margin_x, cfg.margin_y);
      page.width = kept.width;
      page.height = kept.height;
    } else if (cfg.horizontal_scale != 1.0) {
      copy_to_page(raster, raster.width, raster.height, page);
      const int new_w = std::max(1, static_cast<int>(page.width * cfg.horizontal_scale));
      const auto scaled = resize_bicubic(page.pixels.data(), page.width, page.height, new_w, page.height);
      page.pixels.assign(scaled.begin(), scaled.end());
      page.width = new_w;
      auto_crop(page, cfg.auto_crop_width, crop_height, cfg.margin_x, cfg.margin_y);
    } else {
      // Crop on the canvas, then copy out only what is kept.
      const CropSize kept =
          auto_crop_size(raster.data.data(), raster.width, raster.height, raster.stride,
                         raster.channels, cfg.auto_crop_width, crop_height, cfg.margin_x, cfg.margin_y);
      copy_to_page(raster, kept.width, kept.height, page);
    }
    page.index = index++;
    if (laid.has_text) {
      page.char_begin = laid.src_begin;
      page.char_end = laid.src_end;
      last_end = laid.src_end;
    } else {
      page.char_begin = page.char_end = last_end;
    }
    page.visual_tokens = visual_tokens(page.height, page.width);
    stats.visual_tokens += page.visual_tokens;
    ++stats.pages;
    if (on_canvas)
      (*gray_sink)(raster, std::move(page));
    else
      sink(std::move(page));
  };
  const std::function<void(LaidPage&&)> on_page = [&](LaidPage&& laid) {
    if (held) finish(std::move(*held), false);
    held = std::move(laid);
  };
  LayoutStats ls =
      layout_source(*lease.ws->layout, source, on_page, stats.invalid_utf8, lease.ws->decoded);
  if (held) finish(std::move(*held), true);
  stats.characters = ls.characters;
  stats.removed = ls.removed;
  stats.missing_glyphs = ls.missing_glyphs;
  stats.missing_codepoints = ls.missing_codepoints;
  return stats;
}

}  // namespace

RenderResult Renderer::render(std::string_view utf8_text) const {
  RenderResult result;
  result.stats = render_each(utf8_text, [&](Page&& p) { result.pages.push_back(std::move(p)); });
  return result;
}

std::vector<std::string> Renderer::render_to_dir(std::string_view utf8_text,
                                                 const std::string& out_dir,
                                                 const std::string& unique_id, int compression,
                                                 RenderStats* stats) const {
  StringTextSource source(utf8_text);
  return render_to_dir(source, out_dir, unique_id, compression, stats);
}

std::vector<std::string> Renderer::render_to_dir(TextSource& source, const std::string& out_dir,
                                                 const std::string& unique_id, int compression,
                                                 RenderStats* stats) const {
  GLYPH_CHECK(compression >= -1 && compression <= 9, InputError,
              "PNG compression level must be 0..9 (or -1: the default), got {}", compression);
  // unique_id names one folder inside out_dir, never a path that leaves it.
  GLYPH_CHECK(unique_id.find('/') == std::string::npos && unique_id.find('\\') == std::string::npos &&
                  unique_id != "." && unique_id != "..",
              InputError, "unique_id must be a plain folder name, got \"{}\"", unique_id);
  fs::path dir = unique_id.empty() ? fs::path(out_dir) : fs::path(out_dir) / unique_id;
  std::error_code ec;
  fs::create_directories(dir, ec);
  GLYPH_CHECK(!ec, IoError, "cannot create output folder '{}': {}", dir.string(), ec.message());
  std::vector<std::string> paths;
  const PngColor color = config().png_color;
  auto to_file = [&](Page&& page) {
    std::string path = (dir / page.file_name()).string();
    write_png(page, path, compression, color);
    paths.push_back(std::move(path));
  };
  // Gray pages go to PNG straight from the canvas (the same file, without the RGB copy and the
  // encoder's gray check); colour pages, RGB mode and scaled pages through the Page.
  const GraySink from_canvas = [&](const Raster& canvas, Page&& meta) {
    std::string path = (dir / meta.file_name()).string();
    detail::write_png_gray(canvas.data.data(), canvas.stride, meta.width, meta.height, path,
                           compression);
    paths.push_back(std::move(path));
  };
  RenderStats st =
      render_pages(*impl_, source, to_file, color == PngColor::kAuto ? &from_canvas : nullptr);
  remove_stale_pages(dir.string(), paths.size());
  if (stats) *stats = std::move(st);
  return paths;
}

std::size_t remove_stale_pages(const std::string& dir, std::size_t pages) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    // page_ + at least three digits + .png, as Page::file_name writes them
    if (name.size() < 12 || name.compare(0, 5, "page_") != 0 ||
        name.compare(name.size() - 4, 4, ".png") != 0)
      continue;
    const std::string digits = name.substr(5, name.size() - 9);
    if (digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::size_t number = std::stoull(digits);
    if (number > pages && fmt::format("page_{:03d}.png", number) == name) stale.push_back(it->path());
  }
  for (const fs::path& p : stale) {  // removed after the listing, which they would disturb
    std::error_code rm;
    fs::remove(p, rm);
    GLYPH_CHECK(!rm, IoError, "cannot remove the stale page '{}': {}", p.string(), rm.message());
  }
  return stale.size();
}

std::vector<PageLayout> Renderer::layout(std::string_view utf8_text) const {
  StringTextSource source(utf8_text);
  return layout(source);
}

std::vector<PageLayout> Renderer::layout(TextSource& source) const {
  Lease lease(impl_.get());
  std::vector<PageLayout> pages;
  std::size_t invalid = 0;
  const std::function<void(LaidPage&&)> on_page = [&](LaidPage&& laid) {
    PageLayout pl;
    pl.char_begin = laid.src_begin;
    pl.char_end = laid.src_end;
    for (const LaidLine& l : laid.lines) {
      LineInfo li;
      for (const LChar& c : l.chars) append_utf8(li.text, c.cp);
      while (!li.text.empty() && li.text.back() == ' ') li.text.pop_back();
      li.x = l.x;
      li.baseline = l.baseline;
      li.width = l.width;
      li.char_begin = l.src_begin;
      li.char_end = l.src_end;
      pl.lines.push_back(std::move(li));
    }
    pages.push_back(std::move(pl));
  };
  layout_source(*lease.ws->layout, source, on_page, invalid, lease.ws->decoded);
  return pages;
}

std::vector<RenderResult> Renderer::render_batch(const std::vector<std::string>& texts,
                                                 int threads) const {
  std::vector<RenderResult> out(texts.size());
  parallel_for(texts.size(), threads, [&](std::size_t i) { out[i] = render(texts[i]); });
  return out;
}

}  // namespace glyph
