// PNG output through stb_image_write.
#pragma once

#include <string>
#include <vector>

#include "glyph/render/page.h"

namespace glyph {

// Compression level 0..9 (zlib); 6 is PIL's default. Throws IoError naming the path on failure.
void write_png(const Page& page, const std::string& path, int compression_level = 6);
std::vector<unsigned char> encode_png(const Page& page, int compression_level = 6);

}  // namespace glyph
