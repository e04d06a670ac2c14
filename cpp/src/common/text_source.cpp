#include "glyph/common/text_source.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/check.h"

namespace glyph {

std::size_t StringTextSource::read(char* buf, std::size_t n) {
  const std::size_t k = std::min(n, text_.size() - pos_);
  std::memcpy(buf, text_.data() + pos_, k);
  pos_ += k;
  return k;
}

FileTextSource::FileTextSource(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  GLYPH_CHECK(!std::filesystem::is_directory(path_, ec), IoError,
              "cannot read text file '{}': it is a folder", path_);
  f_ = std::fopen(path_.c_str(), "rb");
  GLYPH_CHECK(f_ != nullptr, IoError, "cannot read text file '{}': {}", path_,
              std::strerror(errno));
}

FileTextSource::~FileTextSource() {
  if (f_) std::fclose(f_);
}

std::size_t FileTextSource::read(char* buf, std::size_t n) {
  const std::size_t k = std::fread(buf, 1, n, f_);
  GLYPH_CHECK(k > 0 || !std::ferror(f_), IoError, "error while reading text file '{}': {}",
              path_, std::strerror(errno));
  return k;
}

void FileTextSource::rewind() {
  std::clearerr(f_);
  GLYPH_CHECK(std::fseek(f_, 0, SEEK_SET) == 0, IoError, "cannot rewind text file '{}': {}",
              path_, std::strerror(errno));
}

}  // namespace glyph
