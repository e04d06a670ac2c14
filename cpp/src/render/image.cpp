#include "glyph/render/image.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "common/check.h"

namespace glyph {

namespace {

constexpr int kPrecisionBits = kResizePrecisionBits;

double bicubic(double x) {
  constexpr double a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

}  // namespace

BicubicCoeffs bicubic_coeffs(int in_size, int out_size) {
  GLYPH_CHECK(in_size > 0 && out_size > 0, InputError, "bicubic_coeffs: bad sizes {} -> {}", in_size,
              out_size);
  BicubicCoeffs c;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 2.0 * filterscale;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(2 * static_cast<std::size_t>(out_size));
  c.k.assign(static_cast<std::size_t>(out_size) * c.ksize, 0);
  std::vector<double> kd(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0;
    for (int x = 0; x < xmax; ++x) {
      kd[x] = bicubic((x + xmin - center + 0.5) * ss);
      ww += kd[x];
    }
    for (int x = 0; x < xmax; ++x) {
      double v = ww != 0.0 ? kd[x] / ww : kd[x];
      c.k[static_cast<std::size_t>(xx) * c.ksize + x] =
          v < 0 ? static_cast<int>(-0.5 + v * (1 << kPrecisionBits))
                : static_cast<int>(0.5 + v * (1 << kPrecisionBits));
    }
    c.bounds[2 * xx] = xmin;
    c.bounds[2 * xx + 1] = xmax;
  }
  return c;
}

namespace {

inline std::uint8_t clip8(int in) {
  if (in >= (1 << kPrecisionBits << 8)) return 255;
  if (in <= 0) return 0;
  return static_cast<std::uint8_t>(in >> kPrecisionBits);
}

}  // namespace

std::vector<std::uint8_t> resize_bicubic(const std::uint8_t* rgb, int width, int height,
                                         int new_width, int new_height) {
  GLYPH_CHECK(width > 0 && height > 0 && new_width > 0 && new_height > 0, InputError,
              "resize: bad sizes {}x{} -> {}x{}", width, height, new_width, new_height);
  std::vector<std::uint8_t> cur(rgb, rgb + static_cast<std::size_t>(width) * height * 3);
  int w = width;
  if (new_width != width) {
    BicubicCoeffs c = bicubic_coeffs(width, new_width);
    std::vector<std::uint8_t> out(static_cast<std::size_t>(new_width) * height * 3);
    for (int y = 0; y < height; ++y) {
      const std::uint8_t* src = cur.data() + static_cast<std::size_t>(y) * w * 3;
      std::uint8_t* dst = out.data() + static_cast<std::size_t>(y) * new_width * 3;
      for (int xx = 0; xx < new_width; ++xx) {
        const int xmin = c.bounds[2 * xx], xn = c.bounds[2 * xx + 1];
        const int* k = c.k.data() + static_cast<std::size_t>(xx) * c.ksize;
        int s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
        for (int x = 0; x < xn; ++x) {
          const std::uint8_t* p = src + 3 * (x + xmin);
          s0 += p[0] * k[x];
          s1 += p[1] * k[x];
          s2 += p[2] * k[x];
        }
        dst[3 * xx] = clip8(s0);
        dst[3 * xx + 1] = clip8(s1);
        dst[3 * xx + 2] = clip8(s2);
      }
    }
    cur.swap(out);
    w = new_width;
  }
  if (new_height != height) {
    BicubicCoeffs c = bicubic_coeffs(height, new_height);
    std::vector<std::uint8_t> out(static_cast<std::size_t>(w) * new_height * 3);
    const std::size_t stride = static_cast<std::size_t>(w) * 3;
    for (int yy = 0; yy < new_height; ++yy) {
      const int ymin = c.bounds[2 * yy], yn = c.bounds[2 * yy + 1];
      const int* k = c.k.data() + static_cast<std::size_t>(yy) * c.ksize;
      std::uint8_t* dst = out.data() + static_cast<std::size_t>(yy) * stride;
      for (std::size_t xc = 0; xc < stride; ++xc) {
        int s = 1 << (kPrecisionBits - 1);
        for (int y = 0; y < yn; ++y) s += cur[static_cast<std::size_t>(y + ymin) * stride + xc] * k[y];
        dst[xc] = clip8(s);
      }
    }
    cur.swap(out);
  }
  return cur;
}

namespace {

// Last ink row and column of an image of C channels (-1, -1 when it has none). Ink is
// |luma - bg| > 5 with bg the median of the top-left 2x2 lumas: for integer lumas that is a
// luma outside [lo, hi], tested as one unsigned comparison.
template <int C>
std::pair<int, int> ink_extent(const std::uint8_t* data, int width, int height, std::size_t stride) {
  auto lum = [](const std::uint8_t* px) { return C == 1 ? *px : luma(px); };
  auto row = [&](int y) { return data + static_cast<std::size_t>(y) * stride; };
  // numpy's median of 4 values: mean of the middle two; twice it is g[1] + g[2].
  int g[4] = {lum(row(0)), lum(row(0) + C), lum(row(1)), lum(row(1) + C)};
  std::sort(g, g + 4);
  const int bg2 = g[1] + g[2];
  const int lo = std::max(0, (bg2 - 10 + 1) / 2);  // ceil((bg2 - 10) / 2), bg2 >= 0
  const int hi = std::min(255, (bg2 + 10) / 2);    // floor
  const auto span = static_cast<std::uint8_t>(hi - lo);
  auto ink = [&](const std::uint8_t* px) {
    return static_cast<std::uint8_t>(lum(px) - lo) > span;
  };
  // Only the last ink row and column matter: scan rows bottom-up until one has ink (no early exit
  // inside a row, so the gray test vectorises), then each row above it from the right, stopping
  // at the best column so far.
  int last_row = -1, last_col = -1;
  for (int y = height - 1; y >= 0 && last_row < 0; --y) {
    const std::uint8_t* r = row(y);
    unsigned any = 0;
    for (int x = 0; x < width; ++x) any |= ink(r + C * x);
    if (any) last_row = y;
  }
  for (int y = 0; y <= last_row; ++y) {
    const std::uint8_t* r = row(y);
    for (int x = width - 1; x > last_col; --x)
      if (ink(r + C * x)) {
        last_col = x;
        break;
      }
  }
  return {last_row, last_col};
}

}  // namespace

CropSize auto_crop_size(const std::uint8_t* data, int width, int height, std::size_t stride,
                        int channels, bool crop_width, bool crop_height, double margin_x_px,
                        double margin_y_px) {
  GLYPH_CHECK(channels == 1 || channels == 3, InputError, "auto_crop_size: channels must be 1 or 3, got {}",
              channels);
  CropSize out{width, height};
  if ((!crop_width && !crop_height) || width < 2 || height < 2) return out;
  const auto [last_row, last_col] = channels == 1 ? ink_extent<1>(data, width, height, stride)
                                                  : ink_extent<3>(data, width, height, stride);
  if (last_row < 0) return out;
  // Pillow rounds crop boxes half to even; Glyph's height crop has no "+ 1".
  const int right = static_cast<int>(std::nearbyint(last_col + 1 + margin_x_px));
  const int lower = static_cast<int>(std::nearbyint(last_row + margin_y_px));
  if (crop_width) out.width = std::max(1, std::min(width, right));
  if (crop_height) out.height = std::max(1, std::min(height, lower));
  return out;
}

void auto_crop(Page& page, bool crop_width, bool crop_height, double margin_x_px,
               double margin_y_px) {
  const CropSize c =
      auto_crop_size(page.pixels.data(), page.width, page.height, static_cast<std::size_t>(page.width) * 3,
                     3, crop_width, crop_height, margin_x_px, margin_y_px);
  if (c.width == page.width && c.height == page.height) return;
  // Crop in place: rows only move towards the front, so no second buffer is needed.
  const std::size_t old_stride = static_cast<std::size_t>(page.width) * 3;
  const std::size_t new_stride = static_cast<std::size_t>(c.width) * 3;
  if (new_stride != old_stride)
    for (int y = 1; y < c.height; ++y)
      std::memmove(page.pixels.data() + y * new_stride, page.pixels.data() + y * old_stride,
                   new_stride);
  page.pixels.resize(new_stride * c.height);
  page.width = c.width;
  page.height = c.height;
}

}  // namespace glyph
