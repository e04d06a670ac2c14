// Private to the renderer: PNG straight from a one-channel (gray) canvas, for render_to_dir.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace glyph::detail {

// Writes exactly the file write_png(page, path, level, PngColor::kAuto) writes for the RGB page
// whose pixels are (v, v, v) for each byte v of `gray` (height rows of width bytes, `stride`
// bytes apart), without making that page: no gray->RGB copy, no gray check.
void write_png_gray(const std::uint8_t* gray, std::size_t stride, int width, int height,
                    const std::string& path, int compression_level);

}  // namespace glyph::detail
