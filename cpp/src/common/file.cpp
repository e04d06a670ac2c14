#include "glyph/common/file.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <unistd.h>

#include "common/check.h"

namespace glyph {

std::string read_file(const std::string& path, std::string_view what) {
  std::error_code ec;
  GLYPH_CHECK(!std::filesystem::is_directory(path, ec), IoError,
              "cannot open {} '{}': it is a folder", what, path);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  GLYPH_CHECK(f != nullptr, IoError, "cannot open {} '{}': {}", what, path, std::strerror(errno));
  std::string out;
  char buf[1 << 16];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  GLYPH_CHECK(!failed, IoError, "error while reading {} '{}'", what, path);
  return out;
}

void write_file_atomic(const std::string& path, std::string_view bytes, std::string_view what) {
  // Unique per process and call, so concurrent writers of one path never share a temporary.
  static std::atomic<unsigned long> counter{0};
  const std::string tmp = fmt::format("{}.tmp-{}-{}", path, static_cast<long>(::getpid()),
                                      counter.fetch_add(1));
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  GLYPH_CHECK(f != nullptr, IoError, "cannot write {} '{}': {}", what, path, std::strerror(errno));
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  int err = written ? 0 : errno;
  const bool closed = std::fclose(f) == 0;
  if (written && !closed) err = errno;
  if (!written || !closed) {
    std::remove(tmp.c_str());  // the old file at `path`, if any, is untouched
    GLYPH_THROW(IoError, "cannot write {} '{}': {}", what, path,
                err ? std::strerror(err) : "write failed (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    GLYPH_THROW(IoError, "cannot move the new {} into place at '{}': {}", what, path, ec.message());
  }
}

}  // namespace glyph
