// Text read piece by piece, for texts too large to hold in memory (a 100 MB book, a file that
// grows while it is written). The renderer and the tokenizer's count read a TextSource in chunks:
// memory stays bounded by what the layout itself must hold (docs/reliability.md).
//
//   glyph::FileTextSource src("big.txt");            // IoError naming the file if unreadable
//   renderer.render_each(src, [](glyph::Page&& p) { ... });
//
// Chunks may end anywhere, inside a UTF-8 sequence or between '\r' and '\n': what is read is the
// same byte stream whatever the chunk size, and every consumer decodes it as one text.
#pragma once

#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace glyph {

class TextSource {
 public:
  virtual ~TextSource() = default;
  // Copies up to `n` bytes into `buf`; returns how many, 0 only at the end of the text.
  virtual std::size_t read(char* buf, std::size_t n) = 0;
  // Starts again at the first byte. The renderer reads a source twice: Glyph's layout switches
  // the whole text to CJK wrapping when any ideograph appears, which is known only at the end.
  virtual void rewind() = 0;
  // What the source is, for error messages ("text file 'big.txt'").
  virtual std::string name() const { return "text"; }
  // The whole text, when the source already holds it in memory (readers then slice it instead
  // of copying it through read()); empty otherwise.
  virtual std::optional<std::string_view> in_memory() const { return std::nullopt; }
};

// A text already in memory (not copied: it must outlive the source).
class StringTextSource : public TextSource {
 public:
  explicit StringTextSource(std::string_view text) : text_(text) {}
  std::size_t read(char* buf, std::size_t n) override;
  void rewind() override { pos_ = 0; }
  std::optional<std::string_view> in_memory() const override { return text_; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// A file read in chunks. IoError names the path when it cannot be opened or read.
class FileTextSource : public TextSource {
 public:
  explicit FileTextSource(std::string path);
  ~FileTextSource() override;
  FileTextSource(const FileTextSource&) = delete;
  FileTextSource& operator=(const FileTextSource&) = delete;
  std::size_t read(char* buf, std::size_t n) override;
  void rewind() override;
  std::string name() const override { return "text file '" + path_ + "'"; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
};

// Calls `fn(piece)` for each piece of `source` read from its start, in chunks of `chunk` bytes.
template <class F>
void for_each_chunk(TextSource& source, F&& fn, std::size_t chunk = 1 << 20);

// ---- implementation --------------------------------------------------------------------------

template <class F>
void for_each_chunk(TextSource& source, F&& fn, std::size_t chunk) {
  if (const auto whole = source.in_memory()) {
    for (std::size_t at = 0; at < whole->size(); at += chunk) fn(whole->substr(at, chunk));
    return;
  }
  std::string buf(chunk, '\0');
  source.rewind();
  for (;;) {
    const std::size_t n = source.read(buf.data(), buf.size());
    if (n == 0) break;
    fn(std::string_view(buf.data(), n));
  }
}

}  // namespace glyph
