#include "glyph/render/png.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/check.h"

// stb keeps its compression level in a global; stb_image_write is compiled into this unit only
// and every call sets it under a lock, so concurrent writers do not race.
#include <mutex>

#include <zlib.h>

namespace {
// stb's own deflate is several times slower than zlib's; hand compression to zlib.
unsigned char* zlib_compress(unsigned char* data, int data_len, int* out_len, int quality) {
  uLongf bound = compressBound(static_cast<uLong>(data_len));
  auto* out = static_cast<unsigned char*>(std::malloc(bound));
  if (!out) return nullptr;
  if (compress2(out, &bound, data, static_cast<uLong>(data_len), quality) != Z_OK) {
    std::free(out);
    return nullptr;
  }
  *out_len = static_cast<int>(bound);
  return out;
}
}  // namespace

#define STBIW_ZLIB_COMPRESS zlib_compress
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBIW_WINDOWS_UTF8
#include <stb_image_write.h>

namespace glyph {

namespace {
std::mutex& level_mutex() {
  static std::mutex m;
  return m;
}
void append_bytes(void* ctx, void* data, int size) {
  auto* out = static_cast<std::vector<unsigned char>*>(ctx);
  const auto* p = static_cast<const unsigned char*>(data);
  out->insert(out->end(), p, p + size);
}
}  // namespace

std::vector<unsigned char> encode_png(const Page& page, int compression_level) {
  GLYPH_CHECK(compression_level >= 0 && compression_level <= 9, InputError,
              "PNG compression level must be 0..9, got {}", compression_level);
  GLYPH_CHECK(page.width > 0 && page.height > 0, InputError, "cannot encode an empty page");
  std::vector<unsigned char> out;
  int ok;
  {
    std::lock_guard<std::mutex> lock(level_mutex());
    stbi_write_png_compression_level = compression_level;
    ok = stbi_write_png_to_func(append_bytes, &out, page.width, page.height, 3, page.pixels.data(),
                                page.width * 3);
  }
  GLYPH_CHECK(ok, IoError, "PNG encoding failed for a {}x{} page", page.width, page.height);
  return out;
}

void write_png(const Page& page, const std::string& path, int compression_level) {
  std::vector<unsigned char> bytes = encode_png(page, compression_level);
  // Write to a temporary name then rename, so a crash never leaves a truncated page behind.
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  GLYPH_CHECK(f != nullptr, IoError, "cannot write '{}': {}", path, std::strerror(errno));
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    std::remove(tmp.c_str());
    GLYPH_THROW(IoError, "error while writing '{}' (disk full?)", path);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  GLYPH_CHECK(!ec, IoError, "cannot move '{}' to '{}': {}", tmp, path, ec.message());
}

}  // namespace glyph
