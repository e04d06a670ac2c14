#include "glyph/render/png.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "common/check.h"
#include "glyph/common/file.h"
#include "glyph/render/page.h"

// PNG = stb_image_write's container + libdeflate's compressor (2-3x faster than zlib at the same
// size). stb keeps its settings in globals, so the compression level travels in a thread_local
// instead (no lock: pages encode in parallel) and the row filter is fixed once at load time.
#include <libdeflate.h>

namespace {
thread_local int t_level = 6;

// stb_image_write allocates its working buffers (the filtered image, the compressed stream, the
// file) afresh for every page: megabytes the kernel faults in and zeroes each time, a sixth of
// the PNG time. They come from the pixel-buffer pool instead (glyph/render/page.h), which hands
// the same-sized buffers of the previous page back. stb frees without a size, so each block
// carries its size in a 16-byte header.
constexpr std::size_t kHeader = 16;

void* png_malloc(std::size_t n) {
  void* raw = glyph::detail::allocate_pixels(kHeader + n);
  std::memcpy(raw, &n, sizeof n);
  return static_cast<unsigned char*>(raw) + kHeader;
}
void png_free(void* p) {
  if (!p) return;
  void* raw = static_cast<unsigned char*>(p) - kHeader;
  std::size_t n;
  std::memcpy(&n, raw, sizeof n);
  glyph::detail::deallocate_pixels(raw, kHeader + n);
}
void* png_realloc(void* p, std::size_t n) {
  void* q = png_malloc(n);
  if (p) {
    std::size_t old;
    std::memcpy(&old, static_cast<unsigned char*>(p) - kHeader, sizeof old);
    std::memcpy(q, p, std::min(n, old));
    png_free(p);
  }
  return q;
}

// One compressor per thread, kept while the level stays the same (allocating one means
// allocating and clearing its hash tables).
struct Compressor {
  libdeflate_compressor* c = nullptr;
  int level = -1;
  ~Compressor() {
    if (c) libdeflate_free_compressor(c);
  }
  libdeflate_compressor* get(int lvl) {
    if (c && level != lvl) {
      libdeflate_free_compressor(c);
      c = nullptr;
    }
    if (!c) {
      c = libdeflate_alloc_compressor(lvl);
      level = lvl;
    }
    return c;
  }
};
thread_local Compressor t_compressor;

unsigned char* deflate_zlib(unsigned char* data, int data_len, int* out_len, int /*stb level*/) {
  libdeflate_compressor* c = t_compressor.get(t_level);
  if (!c) return nullptr;
  const size_t bound = libdeflate_zlib_compress_bound(c, static_cast<size_t>(data_len));
  auto* out = static_cast<unsigned char*>(png_malloc(bound));  // stb frees it with STBIW_FREE
  size_t n = out ? libdeflate_zlib_compress(c, data, static_cast<size_t>(data_len), out, bound) : 0;
  if (n == 0) {
    png_free(out);
    return nullptr;
  }
  *out_len = static_cast<int>(n);
  return out;
}

unsigned int crc32_fast(unsigned char* buffer, int len) {
  return libdeflate_crc32(0, buffer, static_cast<size_t>(len));
}
}  // namespace

#define STBIW_MALLOC(sz) png_malloc(sz)
#define STBIW_FREE(p) png_free(p)
#define STBIW_REALLOC(p, newsz) png_realloc(p, newsz)
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
  const std::vector<unsigned char> bytes = encode_png(page, compression_level);
  write_file_atomic(path,
                    std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                    "page");
}

}  // namespace glyph
