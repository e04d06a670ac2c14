// Whole numbers from JSON without undefined behaviour. nlohmann's get<IntType>() casts a float
// to the integer type, which is undefined out of range (1e300), truncates 4096.5 to 4096, and
// narrows a wider integer silently (2^32 + 5 as int32 is 5). json_whole<T> takes only a JSON
// integer that T holds exactly (fuzz findings 2 and 8, docs/reliability.md).
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <type_traits>

namespace glyph {

template <typename T>
std::optional<T> json_whole(const nlohmann::json& v) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  if (!v.is_number_integer()) return std::nullopt;
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return std::nullopt;
    return static_cast<T>(u);
  }
  const auto i = v.get<std::int64_t>();
  if constexpr (std::is_unsigned_v<T>) {
    if (i < 0 || static_cast<std::uint64_t>(i) > std::numeric_limits<T>::max()) return std::nullopt;
  } else {
    if (i < static_cast<std::int64_t>(std::numeric_limits<T>::min()) ||
        i > static_cast<std::int64_t>(std::numeric_limits<T>::max()))
      return std::nullopt;
  }
  return static_cast<T>(i);
}

}  // namespace glyph
