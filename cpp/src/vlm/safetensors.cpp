#include "glyph/vlm/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "common/check.h"
#include "glyph/common/file.h"

namespace glyph::vlm {

namespace fs = std::filesystem;

class MappedFile {
 public:
  explicit MappedFile(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY);
    GLYPH_CHECK(fd_ >= 0, ModelLoadError, "cannot open weights file {}: {}", path,
                std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      ::close(fd_);
      GLYPH_THROW(ModelLoadError, "cannot stat {}", path);
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
      if (p == MAP_FAILED) {
        ::close(fd_);
        GLYPH_THROW(ModelLoadError, "cannot mmap {}: {}", path, std::strerror(errno));
      }
      data_ = static_cast<const std::uint8_t*>(p);
    }
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<std::uint8_t*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const std::uint8_t* data() const { return data_; }
  std::uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  const std::uint8_t* data_ = nullptr;
  std::uint64_t size_ = 0;
};

namespace {

struct DtypeInfo {
  at::ScalarType type;
  int bytes;
};

// The ATen type of each dtype safetensors_format.cpp accepts (sizes from there).
bool dtype_of(const std::string& s, DtypeInfo& out) {
  static const std::map<std::string, at::ScalarType> table = {
      {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16}, {"F64", at::kDouble},
      {"I64", at::kLong},  {"I32", at::kInt},  {"I16", at::kShort},     {"I8", at::kChar},
      {"U8", at::kByte},   {"BOOL", at::kBool}};
  auto it = table.find(s);
  if (it == table.end()) return false;
  out = DtypeInfo{it->second, safetensors_dtype_bytes(s)};
  return out.bytes != 0;
}

}  // namespace

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::string& path) {
  SafetensorsCheckpoint ck;
  fs::path p(path);
  fs::path index;
  std::vector<fs::path> files;
  if (fs::is_directory(p)) {
    if (fs::exists(p / "model.safetensors.index.json")) {
      index = p / "model.safetensors.index.json";
    } else if (fs::exists(p / "model.safetensors")) {
      files.push_back(p / "model.safetensors");
    } else {
      GLYPH_THROW(ModelLoadError,
                  "{}: no model.safetensors or model.safetensors.index.json (only safetensors "
                  "checkpoints are supported)",
                  p.string());
    }
  } else if (p.extension() == ".json") {
    index = p;
  } else {
    files.push_back(p);
  }
  SafetensorsIndex listed;  // from the index: name -> shard
  if (!index.empty()) {
    std::string text;
    try {
      text = read_file(index.string(), "checkpoint index");
    } catch (const IoError& e) {
      throw ModelLoadError(e.what());
    }
    listed = parse_safetensors_index(text, index.string());
    for (const auto& s : listed.shards) files.push_back(index.parent_path() / s);
  }
  std::vector<std::string> names;
  for (const auto& f : files) {
    GLYPH_CHECK(fs::exists(f), ModelLoadError, "weights file {} is missing", f.string());
    ck.paths_.push_back(f.string());
    names.push_back(f.filename().string());
    ck.files_.push_back(std::make_shared<MappedFile>(f.string()));
    const MappedFile& m = *ck.files_.back();
    parse_safetensors_header(m.data(), m.size(), m.path(), ck.files_.size() - 1, ck.tensors_);
  }
  check_safetensors_index(listed, ck.tensors_, names, index.string());
  return ck;
}

const TensorInfo& SafetensorsCheckpoint::info(const std::string& name) const {
  auto it = tensors_.find(name);
  GLYPH_CHECK(it != tensors_.end(), ModelLoadError, "checkpoint has no tensor {}", name);
  return it->second;
}

at::Tensor SafetensorsCheckpoint::tensor(const std::string& name, at::ScalarType dtype,
                                         at::Device device, bool copy) const {
  const TensorInfo& ti = info(name);
  DtypeInfo d{};
  dtype_of(ti.dtype, d);
  const std::shared_ptr<MappedFile>& f = files_[ti.file];
  void* ptr = const_cast<std::uint8_t*>(f->data() + ti.begin);
  const bool aligned = reinterpret_cast<std::uintptr_t>(ptr) % d.bytes == 0;
  if (!copy && aligned && device.is_cpu() && d.type == dtype) {
    // Zero-copy: the tensor holds the mapping alive through its deleter.
    std::shared_ptr<MappedFile> keep = f;
    return at::from_blob(
        ptr, ti.shape, [keep](void*) mutable { keep.reset(); },
        at::TensorOptions().dtype(d.type));
  }
  at::Tensor view;
  if (aligned) {
    view = at::from_blob(ptr, ti.shape, at::TensorOptions().dtype(d.type));
  } else {  // copy the bytes to aligned memory before any typed read
    at::Tensor bytes = at::empty({static_cast<std::int64_t>(ti.end - ti.begin)}, at::kByte);
    std::memcpy(bytes.data_ptr(), ptr, ti.end - ti.begin);
    view = bytes.view(d.type).view(ti.shape);
  }
  return view.to(device, dtype, /*non_blocking=*/false, /*copy=*/true);
}

}  // namespace glyph::vlm
