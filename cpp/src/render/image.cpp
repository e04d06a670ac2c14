#include "glyph/render/image.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "common/check.h"

namespace glyph {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double bicubic(double x) {
  constexpr double a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

struct Coeffs {
  int ksize = 0;
  std::vector<int> bounds;  // (xmin, xcount) per output
  std::vector<int> k;       // fixed-point weights, ksize per output
};

Coeffs precompute(int in_size, int out_size) {
  Coeffs c;
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
    Coeffs c = precompute(width, new_width);
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
    Coeffs c = precompute(height, new_height);
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

void auto_crop(Page& page, bool crop_width, bool crop_height, double margin_x_px,
               double margin_y_px) {
  if ((!crop_width && !crop_height) || page.width < 2 || page.height < 2) return;
  // numpy's median of 4 values: mean of the middle two.
  int g[4] = {luma(page.row(0)), luma(page.row(0) + 3), luma(page.row(1)), luma(page.row(1) + 3)};
  std::sort(g, g + 4);
  const double bg = (g[1] + g[2]) / 2.0;
  auto ink = [&](const std::uint8_t* px) { return std::fabs(luma(px) - bg) > 5; };
  // Only the last ink row and column matter: scan rows bottom-up until one has ink, then each row
  // above it from the right, stopping at the best column so far (a page is read about once).
  int last_col = -1, last_row = -1;
  for (int y = page.height - 1; y >= 0 && last_row < 0; --y) {
    const std::uint8_t* r = page.row(y);
    for (int x = 0; x < page.width; ++x)
      if (ink(r + 3 * x)) {
        last_row = y;
        break;
      }
  }
  for (int y = 0; y <= last_row; ++y) {
    const std::uint8_t* r = page.row(y);
    for (int x = page.width - 1; x > last_col; --x)
      if (ink(r + 3 * x)) {
        last_col = x;
        break;
      }
  }
  if (last_row < 0) return;
  // Pillow rounds crop boxes half to even; Glyph's height crop has no "+ 1".
  const int right = static_cast<int>(std::nearbyint(last_col + 1 + margin_x_px));
  const int lower = static_cast<int>(std::nearbyint(last_row + margin_y_px));
  int new_w = crop_width ? std::max(1, std::min(page.width, right)) : page.width;
  int new_h = crop_height ? std::max(1, std::min(page.height, lower)) : page.height;
  if (new_w == page.width && new_h == page.height) return;
  // Crop in place: rows only move towards the front, so no second buffer is needed.
  const std::size_t old_stride = static_cast<std::size_t>(page.width) * 3;
  const std::size_t new_stride = static_cast<std::size_t>(new_w) * 3;
  if (new_stride != old_stride)
    for (int y = 1; y < new_h; ++y)
      std::memmove(page.pixels.data() + y * new_stride, page.pixels.data() + y * old_stride,
                   new_stride);
  page.pixels.resize(new_stride * new_h);
  page.width = new_w;
  page.height = new_h;
}

}  // namespace glyph
