// The PNG encoder: colour analysis (one pass), scanline packing, libdeflate's zlib stream and a
// minimal chunk writer (IHDR, PLTE, IDAT, IEND; CRCs from libdeflate). See glyph/render/png.h.
//
// Where the time goes on a text page (589x842, config_en): deflate dominates, and its cost grows
// with the bytes it is given. An 8-bit gray page is a third of the RGB bytes, so it compresses
// about 3x faster into a file about 2.5x smaller; the analysis pass that proves gray is exact
// costs a fraction of that (8 pixels per step, see gray_block()).
#include "glyph/render/png.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>

#include <libdeflate.h>
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define GLYPH_PNG_SSSE3 1
#endif

#include "common/check.h"
#include "glyph/common/file.h"
#include "render/png_gray.h"

namespace glyph {

namespace {

// ---------------------------------------------------------------- per-thread state

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

// Working buffers, kept per thread from one page to the next: the scanlines handed to deflate,
// the zlib stream, and (write_png) the file. Fresh megabyte buffers per page would be faulted in
// and zeroed by the kernel each time; these are reused at no cost. Buffers grown past kKeep
// (a huge page) are released after use so a thread does not hold them forever.
struct Scratch {
  PixelBuffer raw, zlib, file;
};
thread_local Scratch t_scratch;
constexpr std::size_t kKeep = std::size_t{64} << 20;

void release_if_huge(PixelBuffer& b) {
  if (b.capacity() > kKeep) PixelBuffer().swap(b);
}

// ---------------------------------------------------------------- colour analysis

enum class ColorType : std::uint8_t { kGray = 0, kRgb = 2, kPalette = 3 };

struct Format {
  ColorType type = ColorType::kRgb;
  int depth = 8;                          // bits per sample (per index for palettes)
  int colors = 0;                         // palette entries
  std::array<std::uint8_t, 768> palette;  // RGB triplets
  // raw byte (gray level or palette index) -> sample value, for depths below 8
  std::array<std::uint8_t, 256> sample;
};

inline std::uint64_t load64(const std::uint8_t* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
constexpr bool kLittleEndian = true;
#else
constexpr bool kLittleEndian = false;
#endif

// Eight pixels (24 bytes at p) at once: true when each has R = G = B, with their eight gray levels
// in *out (pixel 0 in the lowest byte). Pixel i is bytes 3i..3i+2; it is gray when byte k equals
// byte k + 1 for k = 3i and 3i + 1. XOR-ing the bytes with the same bytes moved by one and
// masking those positions tests all eight pixels in three 64-bit words.
inline bool gray_block(const std::uint8_t* p, std::uint64_t* out) {
  const std::uint64_t a = load64(p), b = load64(p + 8), c = load64(p + 16);
  const std::uint64_t a1 = (a >> 8) | (b << 56), b1 = (b >> 8) | (c << 56), c1 = c >> 8;
  // byte positions k with k % 3 != 2, in each word (bytes 0..7, 8..15, 16..22)
  constexpr std::uint64_t ma = 0xFFFF00FFFF00FFFFull;  // bytes 0,1,3,4,6,7
  constexpr std::uint64_t mb = 0xFF00FFFF00FFFF00ull;  // bytes 9,10,12,13,15 (1,2,4,5,7)
  constexpr std::uint64_t mc = 0x00FFFF00FFFF00FFull;  // bytes 16,18,19,21,22 (0,2,3,5,6)
  if ((((a ^ a1) & ma) | ((b ^ b1) & mb) | ((c ^ c1) & mc)) != 0) return false;
  // gray levels: bytes 0, 3, 6 of a; 9, 12, 15 (1, 4, 7) of b; 18, 21 (2, 5) of c
  *out = (a & 0xFF) | ((a >> 16) & 0xFF00) | ((a >> 32) & 0xFF0000) |
         ((b << 16) & 0xFF000000ull) | (b & 0xFF00000000ull) | ((b >> 16) & 0xFF0000000000ull) |
         ((c << 32) & 0xFF000000000000ull) | ((c << 16) & 0xFF00000000000000ull);
  return true;
}

// The longest gray prefix of a row (a multiple of 8 pixels, or of 16 with SSSE3): writes the
// levels of its pixels to dst and returns their count. The caller finishes the row pixel by pixel.
std::size_t gray_prefix_portable(const std::uint8_t* src, std::size_t w, std::uint8_t* dst,
                                 std::size_t x) {
  if (!kLittleEndian) return x;
  for (std::uint64_t g; x + 8 <= w && gray_block(src + 3 * x, &g); x += 8) std::memcpy(dst + x, &g, 8);
  return x;
}

#if defined(GLYPH_PNG_SSSE3)
// 16 pixels (48 bytes) per step: each byte compared with the next (alignr), the R = G and G = B
// positions checked in the movemasks, the R bytes gathered by three shuffles. About 4x the
// 64-bit version; compiled for SSSE3 whatever the build flags and used when the CPU has it.
__attribute__((target("ssse3"))) std::size_t gray_prefix_ssse3(const std::uint8_t* src,
                                                               std::size_t w, std::uint8_t* dst) {
  const __m128i r0 = _mm_setr_epi8(0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i r1 = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, 2, 5, 8, 11, 14, -1, -1, -1, -1, -1);
  const __m128i r2 = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 1, 4, 7, 10, 13);
  std::size_t x = 0;
  for (; x + 16 <= w; x += 16) {
    const std::uint8_t* p = src + 3 * x;
    const __m128i v0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i v1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
    const __m128i v2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32));
    // bit k of e: byte k equals byte k + 1 (k = 0..47); pixel i needs k = 3i and 3i + 1
    const int e0 = _mm_movemask_epi8(_mm_cmpeq_epi8(v0, _mm_alignr_epi8(v1, v0, 1)));
    const int e1 = _mm_movemask_epi8(_mm_cmpeq_epi8(v1, _mm_alignr_epi8(v2, v1, 1)));
    const int e2 = _mm_movemask_epi8(_mm_cmpeq_epi8(v2, _mm_srli_si128(v2, 1)));
    if ((e0 & 0xB6DB) != 0xB6DB || (e1 & 0xDB6D) != 0xDB6D || (e2 & 0x6DB6) != 0x6DB6) break;
    const __m128i g = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(v0, r0), _mm_shuffle_epi8(v1, r1)),
                                   _mm_shuffle_epi8(v2, r2));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + x), g);
  }
  return gray_prefix_portable(src, w, dst, x);
}
#endif

std::size_t gray_prefix(const std::uint8_t* src, std::size_t w, std::uint8_t* dst) {
#if defined(GLYPH_PNG_SSSE3)
  static const bool ssse3 = __builtin_cpu_supports("ssse3");
  if (ssse3) return gray_prefix_ssse3(src, w, dst);
#endif
  return gray_prefix_portable(src, w, dst, 0);
}

// Open-addressing map of up to 256 colours (24-bit, as r | g << 8 | b << 16) to palette indices.
class ColorMap {
 public:
  // The colour's index, adding it; -1 when it would be the 257th.
  int index(std::uint32_t color, Format& f) {
    std::uint32_t slot = (color * 2654435761u) >> (32 - kBits);
    for (;;) {
      if (keys_[slot] == 0) break;
      if (keys_[slot] == (color | kUsed)) return idx_[slot];
      slot = (slot + 1) & (kSize - 1);
    }
    if (f.colors == 256) return -1;
    keys_[slot] = color | kUsed;
    idx_[slot] = static_cast<std::uint8_t>(f.colors);
    f.palette[3 * f.colors] = static_cast<std::uint8_t>(color);
    f.palette[3 * f.colors + 1] = static_cast<std::uint8_t>(color >> 8);
    f.palette[3 * f.colors + 2] = static_cast<std::uint8_t>(color >> 16);
    return f.colors++;
  }

 private:
  static constexpr int kBits = 10;
  static constexpr std::uint32_t kSize = 1u << kBits;
  static constexpr std::uint32_t kUsed = 1u << 24;
  std::array<std::uint32_t, kSize> keys_{};
  std::array<std::uint8_t, kSize> idx_{};
};

inline std::uint32_t color_at(const std::uint8_t* p) {
  return p[0] | (static_cast<std::uint32_t>(p[1]) << 8) | (static_cast<std::uint32_t>(p[2]) << 16);
}

// The format of a gray image: 8-bit when it has more than 16 levels (`complete` false: `seen` was
// no longer kept), else gray at 1, 2 or 4 bits when every level is one of that depth's (0/255;
// multiples of 85; multiples of 17), else a 1/2/4-bit palette of the levels.
void gray_format(const std::array<std::uint8_t, 256>& seen, bool complete, Format& f) {
  f.type = ColorType::kGray;
  f.depth = 8;
  if (!complete) return;
  int n = 0;
  for (int v = 0; v < 256; ++v) n += seen[v];
  for (int d : {1, 2, 4}) {
    const int step = 255 / ((1 << d) - 1);
    bool fits = true;
    for (int v = 0; v < 256 && fits; ++v) fits = !seen[v] || v % step == 0;
    if (fits) {
      f.depth = d;
      for (int v = 0; v < 256; ++v) f.sample[v] = static_cast<std::uint8_t>(v / step);
      return;
    }
  }
  f.type = ColorType::kPalette;
  f.depth = n <= 2 ? 1 : n <= 4 ? 2 : 4;
  f.colors = 0;
  for (int v = 0; v < 256; ++v) {
    if (!seen[v]) continue;
    f.sample[v] = static_cast<std::uint8_t>(f.colors);
    std::memset(&f.palette[3 * f.colors], v, 3);
    ++f.colors;
  }
}

// Marks the levels of one row of gray bytes in `seen`; returns whether there are still at most
// 16 (beyond, the caller stops marking). `prev`: the last 8 levels marked, so that runs (blank
// stretches) are marked once.
bool mark_levels(const std::uint8_t* row, std::size_t w, std::array<std::uint8_t, 256>& seen,
                 std::uint64_t& prev, bool& have_prev) {
  std::size_t i = 0;
  for (std::uint64_t g; i + 8 <= w; i += 8) {
    std::memcpy(&g, row + i, 8);
    if (g == prev && have_prev) continue;
    for (int k = 0; k < 8; ++k) seen[row[i + k]] = 1;
    prev = g;
    have_prev = true;
  }
  for (; i < w; ++i) seen[row[i]] = 1;
  int n = 0;
  for (int v = 0; v < 256; ++v) n += seen[v];
  return n <= 16;
}

// Writes one byte per pixel into raw (row y at raw + y * (w + 1) + 1; byte 0 of each row is left
// for the filter type) and decides the format. Returns false when the image needs RGB (more
// than 256 colours); raw then holds nothing useful.
bool analyse(const std::uint8_t* rgb, std::size_t w, std::size_t h, std::uint8_t* raw, Format& f) {
  const std::size_t pitch = w + 1;
  // Pass 1, optimistic: gray levels, many pixels at a time, until a pixel is not gray. The
  // levels are marked in `seen` only while there are at most 16 (beyond that the count no longer
  // changes the format, and marking every pixel would cost a third of this pass).
  std::array<std::uint8_t, 256> seen{};
  bool counting = true;
  std::size_t y = 0, x = 0;
  bool gray = true;
  std::uint64_t prev = 0;  // the last 8 levels marked in `seen`
  bool have_prev = false;
  for (; y < h; ++y) {
    const std::uint8_t* src = rgb + y * w * 3;
    std::uint8_t* dst = raw + y * pitch + 1;
    // A row like the one above (blank lines, margins) has its levels already.
    if (y > 0 && std::memcmp(src, src - 3 * w, 3 * w) == 0) {
      std::memcpy(dst, dst - pitch, w);
      continue;
    }
    for (x = gray_prefix(src, w, dst); x < w; ++x) {
      const std::uint8_t* p = src + 3 * x;
      if (p[0] != p[1] || p[1] != p[2]) {
        gray = false;
        break;
      }
      dst[x] = p[0];
    }
    if (!gray) break;
    if (counting) counting = mark_levels(dst, w, seen, prev, have_prev);
  }

  if (gray) {
    gray_format(seen, counting, f);
    return true;
  }

  // Pass 2, from the first colour pixel on: palette indices. The levels seen so far are the
  // palette's first entries; the bytes already written become their indices.
  auto written = [&](auto&& fn) {
    for (std::size_t yy = 0; yy <= y; ++yy) {
      std::uint8_t* dst = raw + yy * pitch + 1;
      const std::size_t end = yy < y ? w : x;
      for (std::size_t i = 0; i < end; ++i) fn(dst[i]);
    }
  };
  seen.fill(0);  // `seen` stops early (counting) and lacks the last row's prefix: recount
  written([&](std::uint8_t v) { seen[v] = 1; });
  ColorMap map;
  f.type = ColorType::kPalette;
  f.colors = 0;
  std::array<std::uint8_t, 256> lut{};
  for (int v = 0; v < 256; ++v)
    if (seen[v]) lut[v] = static_cast<std::uint8_t>(map.index(0x010101u * v, f));
  written([&](std::uint8_t& v) { v = lut[v]; });
  std::uint32_t last = ~0u;
  int last_index = 0;
  for (; y < h; ++y, x = 0) {
    const std::uint8_t* src = rgb + y * w * 3;
    std::uint8_t* dst = raw + y * pitch + 1;
    if (x == 0 && y > 0 && std::memcmp(src, src - 3 * w, 3 * w) == 0) {
      std::memcpy(dst, dst - pitch, w);
      continue;
    }
    for (; x < w; ++x) {
      const std::uint32_t c = color_at(src + 3 * x);
      if (c != last) {
        last_index = map.index(c, f);
        if (last_index < 0) return false;
        last = c;
      }
      dst[x] = static_cast<std::uint8_t>(last_index);
    }
  }
  f.depth = f.colors <= 2 ? 1 : f.colors <= 4 ? 2 : f.colors <= 16 ? 4 : 8;
  for (int v = 0; v < 256; ++v) f.sample[v] = static_cast<std::uint8_t>(v);
  return true;
}

// Packs each row's bytes (one per pixel) into samples of f.depth < 8 bits, most significant
// first, in place: row y moves to raw + y * (packed + 1), never past what is still to be read.
std::size_t pack_rows(std::uint8_t* raw, std::size_t w, std::size_t h, const Format& f) {
  const int d = f.depth;
  const std::size_t per_byte = 8 / d;
  const std::size_t packed = (w * d + 7) / 8;
  for (std::size_t y = 0; y < h; ++y) {
    const std::uint8_t* src = raw + y * (w + 1) + 1;
    std::uint8_t* dst = raw + y * (packed + 1);
    dst[0] = 0;  // filter: none
    ++dst;
    for (std::size_t j = 0, x = 0; j < packed; ++j) {
      unsigned byte = 0;
      for (std::size_t k = 0; k < per_byte; ++k, ++x) {
        byte <<= d;
        if (x < w) byte |= f.sample[src[x]];
      }
      dst[j] = static_cast<std::uint8_t>(byte);
    }
  }
  return h * (packed + 1);
}

// ---------------------------------------------------------------- chunks

void put32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

// One chunk at p (length, type, data, CRC over type and data); returns the byte after it.
std::uint8_t* put_chunk(std::uint8_t* p, const char type[4], const std::uint8_t* data,
                        std::size_t n) {
  put32(p, static_cast<std::uint32_t>(n));
  std::memcpy(p + 4, type, 4);
  if (n) std::memcpy(p + 8, data, n);
  put32(p + 8 + n, static_cast<std::uint32_t>(libdeflate_crc32(0, p + 4, 4 + n)));
  return p + 12 + n;
}

// IDAT chunks stay far below PNG's 2^31 - 1 byte limit.
constexpr std::size_t kIdatMax = std::size_t{1} << 30;

// The PNG of `raw` (filtered scanlines) in `file`, resized to fit.
template <class Buffer>
void assemble(Buffer& file, std::size_t width, std::size_t height, const Format& f,
              const std::uint8_t* z, std::size_t zn) {
  const std::size_t idat_chunks = zn == 0 ? 1 : (zn + kIdatMax - 1) / kIdatMax;
  const std::size_t plte = f.type == ColorType::kPalette ? 12 + 3 * f.colors : 0;
  file.resize(8 + 25 + plte + 12 * idat_chunks + zn + 12);
  std::uint8_t* p = file.data();
  static constexpr std::uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::memcpy(p, kSignature, 8);
  p += 8;
  std::uint8_t ihdr[13];
  put32(ihdr, static_cast<std::uint32_t>(width));
  put32(ihdr + 4, static_cast<std::uint32_t>(height));
  ihdr[8] = static_cast<std::uint8_t>(f.depth);
  ihdr[9] = static_cast<std::uint8_t>(f.type);
  ihdr[10] = ihdr[11] = ihdr[12] = 0;  // deflate, adaptive filtering, no interlace
  p = put_chunk(p, "IHDR", ihdr, 13);
  if (plte) p = put_chunk(p, "PLTE", f.palette.data(), 3 * static_cast<std::size_t>(f.colors));
  std::size_t done = 0;
  do {
    const std::size_t n = std::min(kIdatMax, zn - done);
    p = put_chunk(p, "IDAT", z + done, n);
    done += n;
  } while (done < zn);
  p = put_chunk(p, "IEND", nullptr, 0);
}

void check_args(int width, int height, int level, const void* pixels) {
  GLYPH_CHECK(level >= -1 && level <= 9, InputError,
              "PNG compression level must be 0..9 (or -1: the default), got {}", level);
  GLYPH_CHECK(width > 0 && height > 0 && pixels != nullptr, InputError,
              "cannot encode an empty page ({}x{} pixels)", width, height);
  GLYPH_CHECK(static_cast<std::size_t>(width) <= 0x7FFFFFFF / 3, InputError,
              "{}x{} is too large for a PNG", width, height);
}

// Filtered scanlines (s.raw, raw_size bytes) -> zlib -> the file.
template <class Buffer>
void compress_into(std::size_t w, std::size_t h, const Format& f, std::size_t raw_size, int level,
                   Buffer& file) {
  Scratch& s = t_scratch;
  if (level == kPngDefaultCompression) level = f.type == ColorType::kRgb ? 3 : 1;
  libdeflate_compressor* c = t_compressor.get(level);
  GLYPH_CHECK(c != nullptr, IoError, "cannot allocate a level-{} deflate compressor", level);
  s.zlib.resize(libdeflate_zlib_compress_bound(c, raw_size));
  const std::size_t zn =
      libdeflate_zlib_compress(c, s.raw.data(), raw_size, s.zlib.data(), s.zlib.size());
  GLYPH_CHECK(zn > 0, IoError, "PNG encoding failed for a {}x{} image", w, h);
  assemble(file, w, h, f, s.zlib.data(), zn);
  release_if_huge(s.raw);
  release_if_huge(s.zlib);
}

// One byte per pixel in s.raw (rows w + 1 apart, format f decided) -> packed rows -> the file.
template <class Buffer>
void finish_indexed(std::size_t w, std::size_t h, Format& f, int level, Buffer& file) {
  Scratch& s = t_scratch;
  std::size_t raw_size = h * (w + 1);
  if (f.depth < 8) {
    raw_size = pack_rows(s.raw.data(), w, h, f);
  } else {
    for (std::size_t y = 0; y < h; ++y) s.raw[y * (w + 1)] = 0;  // filter: none
  }
  compress_into(w, h, f, raw_size, level, file);
}

// Encodes an RGB image into `file` (any byte vector).
template <class Buffer>
void encode(const std::uint8_t* rgb, int width, int height, int level, PngColor color,
            Buffer& file) {
  check_args(width, height, level, rgb);
  const std::size_t w = static_cast<std::size_t>(width), h = static_cast<std::size_t>(height);
  Scratch& s = t_scratch;
  Format f;
  if (color == PngColor::kAuto) {
    s.raw.resize(h * (w + 1));
    if (analyse(rgb, w, h, s.raw.data(), f)) return finish_indexed(w, h, f, level, file);
  }
  f = Format{};
  const std::size_t pitch = 3 * w + 1;
  s.raw.resize(h * pitch);
  for (std::size_t y = 0; y < h; ++y) {
    s.raw[y * pitch] = 0;  // filter: none
    std::memcpy(&s.raw[y * pitch + 1], rgb + y * 3 * w, 3 * w);
  }
  compress_into(w, h, f, h * pitch, level, file);
}

void write_file(const PixelBuffer& file, const std::string& path) {
  write_file_atomic(path, std::string_view(reinterpret_cast<const char*>(file.data()), file.size()),
                    "page");
}

}  // namespace

std::vector<unsigned char> encode_png(const std::uint8_t* rgb, int width, int height,
                                      int compression_level, PngColor color) {
  std::vector<unsigned char> out;
  encode(rgb, width, height, compression_level, color, out);
  return out;
}

static void check_page(const Page& page) {
  GLYPH_CHECK(page.width <= 0 || page.height <= 0 ||
                  page.pixels.size() >= static_cast<std::size_t>(page.width) * page.height * 3,
              InputError, "page of {}x{} pixels holds only {} bytes", page.width, page.height,
              page.pixels.size());
}

std::vector<unsigned char> encode_png(const Page& page, int compression_level, PngColor color) {
  check_page(page);
  return encode_png(page.pixels.data(), page.width, page.height, compression_level, color);
}

void write_png(const Page& page, const std::string& path, int compression_level, PngColor color) {
  check_page(page);
  PixelBuffer& file = t_scratch.file;
  encode(page.pixels.data(), page.width, page.height, compression_level, color, file);
  write_file(file, path);
  release_if_huge(file);
}

void detail::write_png_gray(const std::uint8_t* gray, std::size_t stride, int width, int height,
                            const std::string& path, int compression_level) {
  check_args(width, height, compression_level, gray);
  const std::size_t w = static_cast<std::size_t>(width), h = static_cast<std::size_t>(height);
  Scratch& s = t_scratch;
  s.raw.resize(h * (w + 1));
  // The rows as analyse() would leave them for a gray page, with the same level count.
  std::array<std::uint8_t, 256> seen{};
  bool counting = true, have_prev = false;
  std::uint64_t prev = 0;
  for (std::size_t y = 0; y < h; ++y) {
    std::uint8_t* dst = s.raw.data() + y * (w + 1) + 1;
    std::memcpy(dst, gray + y * stride, w);
    if (counting) counting = mark_levels(dst, w, seen, prev, have_prev);
  }
  Format f;
  gray_format(seen, counting, f);
  PixelBuffer& file = s.file;
  finish_indexed(w, h, f, compression_level, file);
  write_file(file, path);
  release_if_huge(file);
}

}  // namespace glyph
