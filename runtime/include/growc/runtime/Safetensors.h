//===- Safetensors.h - Safetensors checkpoint reader and writer -*- C++ -*-===//
//
// growc stores model weights in the safetensors format so that checkpoints
// interoperate with the Python ecosystem (the `safetensors` package) and can
// be memory-mapped without copying:
//
//   [8 bytes: little-endian u64 N][N bytes: UTF-8 JSON header][data buffer]
//
// The header maps each tensor name to {"dtype", "shape", "data_offsets"}
// (offsets relative to the start of the data buffer) plus an optional
// "__metadata__" object of string -> string. The reader validates a file as
// strictly as the reference implementation (including its rule that the
// tensors cover the data buffer exactly, without holes or trailing bytes),
// so that anything growc accepts is also accepted by Python, and reports
// every problem as a Status naming the file and tensor.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_SAFETENSORS_H
#define GROWC_RUNTIME_SAFETENSORS_H

#include "growc/runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace growc::rt {

/// Element types, named as in the safetensors header.
enum class DType {
  BOOL,
  U8,
  I8,
  I16,
  U16,
  F16,
  BF16,
  I32,
  U32,
  F32,
  F64,
  I64,
  U64,
  F8_E4M3,
  F8_E5M2
};

/// Bytes per element.
size_t dtypeSize(DType dtype);
/// The header spelling, e.g. "F32".
const char *dtypeName(DType dtype);
/// Inverse of dtypeName (case-sensitive, as in the format); nullopt if
/// unknown.
std::optional<DType> parseDType(std::string_view name);

/// A tensor inside an open SafetensorsFile. `data` points into the file's
/// mapping and is valid as long as the SafetensorsFile (or whatever it was
/// moved into) is alive. It carries no alignment guarantee beyond 1.
struct TensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const uint8_t *data;
  size_t byteSize;

  /// Product of the shape (1 for a 0-d scalar, 0 if any dimension is 0).
  /// Always valid for tensors of a SafetensorsFile; -1 for a hand-built view
  /// whose shape has a negative dimension or overflows int64_t.
  int64_t numElements() const;
};

/// The tensor called `name` in `tensors` sorted by name, or nullptr.
/// O(log n).
const TensorView *findTensor(const std::vector<TensorView> &tensors,
                             std::string_view name);

/// A validated, read-only safetensors file.
class SafetensorsFile {
public:
  /// Memory-maps `path` read-only and validates it.
  static StatusOr<SafetensorsFile> open(const std::string &path);
  /// Validates an in-memory file image; `displayName` stands in for the path
  /// in error messages and path().
  static StatusOr<SafetensorsFile> fromBytes(std::vector<uint8_t> bytes,
                                             std::string displayName);

  SafetensorsFile(SafetensorsFile &&) noexcept;
  SafetensorsFile &operator=(SafetensorsFile &&) noexcept;
  SafetensorsFile(const SafetensorsFile &) = delete;
  SafetensorsFile &operator=(const SafetensorsFile &) = delete;
  ~SafetensorsFile();

  /// The tensor called `name`, or nullptr. O(log n).
  const TensorView *find(std::string_view name) const;
  /// All tensors, sorted by name.
  const std::vector<TensorView> &tensors() const { return tensors_; }
  /// The "__metadata__" entries in header order (empty if absent).
  const std::vector<std::pair<std::string, std::string>> &metadata() const {
    return metadata_;
  }
  /// The path (or display name) the file was opened from.
  const std::string &path() const { return path_; }

private:
  /// The backing bytes (a mapping or a vector). Held by pointer so that the
  /// TensorView::data pointers stay valid when the file object moves.
  class Storage;

  SafetensorsFile() = default;
  static StatusOr<SafetensorsFile> validate(std::unique_ptr<Storage> storage,
                                            const std::string &path);

  std::unique_ptr<Storage> storage_;
  std::string path_;
  std::vector<TensorView> tensors_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

/// A tensor to write; `data` must point to `byteSize` bytes.
struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void *data;
  size_t byteSize;
};

/// Writes a safetensors file atomically. Tensors are laid out in the given
/// order and the header is padded with spaces so that the data buffer starts
/// at an 8-byte aligned file offset. Checks first that every name is
/// non-empty, unique and not "__metadata__", that metadata keys are unique,
/// and that each byteSize equals numElements * dtypeSize; on any error
/// nothing is written and an existing file at `path` is left untouched.
/// The metadata gets "format": "pt" in front when it has no "format" key
/// (transformers refuses files without it), so every file has metadata.
Status writeSafetensors(
    const std::string &path, const std::vector<TensorToWrite> &tensors,
    const std::vector<std::pair<std::string, std::string>> &metadata = {});

/// Creates `path` with the contents produced by `writer`, such that `path`
/// either keeps its old state or gets the complete new contents, even if the
/// process dies midway: writes a temporary file next to it (path +
/// ".tmp.<pid>.<random>"), flushes and fsyncs it, then renames it over
/// `path`. If `writer` returns an error (or throws), or any step fails, the
/// temporary file is removed and the error is returned. The FILE* is owned
/// by this function; `writer` must not close it.
Status writeFileAtomically(const std::string &path,
                           const std::function<Status(std::FILE *)> &writer);

} // namespace growc::rt

#endif // GROWC_RUNTIME_SAFETENSORS_H
