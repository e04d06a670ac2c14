// PNG output: one encoder behind every writer (Page.save, Renderer::render_to_dir, the CLI).
//
//   glyph::write_png(page, "p.png");                          // smallest exact colour type
//   glyph::write_png(page, "p.png", 3, glyph::PngColor::kRgb);  // always 24-bit RGB
//
// PngColor::kAuto (the default) looks at the page's colours in one pass and writes the smallest
// PNG colour type that decodes to exactly the same RGB pixels: 8-bit grayscale when every pixel
// has R = G = B (gray 1/2/4-bit when the levels fit those depths exactly), an indexed (palette)
// image of 1/2/4/8 bits when there are at most 256 colours, RGB otherwise. Text pages in
// single-colour themes hold a few hundred shades at most, so they become a third of the data to
// compress. Rows are written with PNG filter "none" (the smallest and fastest on text pages).
//
// Compression level: 0..9 is libdeflate's level, used as given. The default,
// kPngDefaultCompression (-1), is level 3 for RGB data (~2% larger than level 6 in half the time,
// ~27% smaller than PIL's default PNGs of the same page) and level 1 for gray and palette data
// (one byte or less per pixel: level 1 is 1.3x faster than 3 there, and its files are still well
// under half the RGB level-3 files of the same page; measured on config_en pages).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "glyph/render/config.h"
#include "glyph/render/page.h"

namespace glyph {

// -1: level 3 for RGB data, level 1 for gray and palette data (see above).
constexpr int kPngDefaultCompression = -1;

// Throws InputError on a level outside -1..9 or an empty page, IoError naming the path when the
// file cannot be written (the file is written atomically: never a torn PNG).
void write_png(const Page& page, const std::string& path,
               int compression_level = kPngDefaultCompression, PngColor color = PngColor::kAuto);
std::vector<unsigned char> encode_png(const Page& page,
                                      int compression_level = kPngDefaultCompression,
                                      PngColor color = PngColor::kAuto);
// Any RGB image: `rgb` holds height rows of 3 * width bytes.
std::vector<unsigned char> encode_png(const std::uint8_t* rgb, int width, int height,
                                      int compression_level = kPngDefaultCompression,
                                      PngColor color = PngColor::kAuto);

}  // namespace glyph
