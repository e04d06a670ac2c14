#include "glyph/render/png.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/check.h"

// PNG = stb_image_write's container + libdeflate's compressor (2-3x faster than zlib at the same
// size). stb keeps its settings in globals, so the compression level travels in a thread_local
// instead (no lock: pages encode in parallel) and the row filter is fixed once at load time.
#include <libdeflate.h>

namespace {
thread_local int t_level = 6;

unsigned char* deflate_zlib(unsigned char* data, int data_len, int* out_len, int /*stb level*/) {
  libdeflate_compressor* c = libdeflate_alloc_compressor(t_level);
  if (!c) return nullptr;
  const size_t bound = libdeflate_zlib_compress_bound(c, static_cast<size_t>(data_len));
  auto* out = static_cast<unsigned char*>(std::malloc(bound));
  size_t n = out ? libdeflate_zlib_compress(c, data, static_cast<size_t>(data_len), out, bound) : 0;
  libdeflate_free_compressor(c);
  if (n == 0) {
    std::free(out);
    return nullptr;
  }
  *out_len = static_cast<int>(n);
  return out;
}
}  // namespace

namespace {
unsigned int crc32_fast(unsigned char* buffer, int len) {
  return libdeflate_crc32(0, buffer, static_cast<size_t>(len));
}
}  // namespace

#define STBIW_ZLIB_COMPRESS deflate_zlib
#define STBIW_CRC32 crc32_fast
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb_image_write.h>

namespace {
// Text pages are anti-aliased strokes on flat backgrounds: PNG filter "none" gives both the
// smallest files and the fastest encode here (measured on config_en pages; adaptive filtering
// costs 1.5x the time for 3% larger files).
const bool kFilterSet = (stbi_write_force_png_filter = 0, true);

void append_bytes(void* ctx, void* data, int size) {
  auto* out = static_cast<std::vector<unsigned char>*>(ctx);
  const auto* p = static_cast<const unsigned char*>(data);
  out->insert(out->end(), p, p + size);
}
}  // namespace

namespace glyph {

std::vector<unsigned char> encode_png(const Page& page, int compression_level) {
  GLYPH_CHECK(compression_level >= 0 && compression_level <= 9, InputError,
              "PNG compression level must be 0..9, got {}", compression_level);
  GLYPH_CHECK(page.width > 0 && page.height > 0, InputError, "cannot encode an empty page");
  std::vector<unsigned char> out;
  (void)kFilterSet;
  t_level = compression_level;
  out.reserve(static_cast<std::size_t>(page.width) * page.height / 2);
  const int ok = stbi_write_png_to_func(append_bytes, &out, page.width, page.height, 3,
                                        page.pixels.data(), page.width * 3);
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
