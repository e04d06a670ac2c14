// reportlab's fp_str: how a number is written into the PDF that poppler then reads back
// (7 significant digits at most). Positions and advances go through it to match the reference.
#pragma once

#include <algorithm>
#include <cmath>

namespace glyph {

inline double fp_str(double x) {
  const double ax = std::fabs(x);
  if (ax <= 1e-7) return 0;
  int d = 6;
  if (ax > 1) d = std::min(std::max(0, 6 - static_cast<int>(std::log10(ax))), 6);
  const double p = std::pow(10.0, d);
  return std::round(x * p) / p;
}

}  // namespace glyph
