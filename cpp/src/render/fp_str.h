// reportlab's fp_str: how a number is written into the PDF that poppler then reads back
// (7 significant digits at most). Positions and advances go through it to match the reference.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace glyph {

// Python formats with "%.*f", which rounds the exact binary value to nearest, ties to even.
// printf does the same; round(x * 10^d) / 10^d would round ties away from zero, and ties are
// common here: a 2048-unit font gives widths like 351.03125, written as 351.0312, not 351.0313
// (the 1e-4 difference moved a glyph to the next quarter pixel on Glyph's golden page).
inline double fp_str(double x) {
  const double ax = std::fabs(x);
  if (ax <= 1e-7) return 0;
  int d = 6;
  if (ax > 1) d = std::min(std::max(0, 6 - static_cast<int>(std::log10(ax))), 6);
  const double p = std::pow(10.0, d);
  const double y = x * p;  // within an ulp of the exact product
  const double frac = std::fabs(y - std::trunc(y));
  if (std::fabs(frac - 0.5) > 1e-6) return std::round(y) / p;  // not near a tie: same digits
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", d, x);
  return std::strtod(buf, nullptr);
}

}  // namespace glyph
