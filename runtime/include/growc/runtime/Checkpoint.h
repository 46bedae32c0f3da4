//===- Checkpoint.h - Model checkpoints as Hugging Face saves them -*- C++
//-*-===//
//
// A checkpoint is what `save_pretrained` writes and what growc writes: one
// `model.safetensors`, or shards `model-0000i-of-0000n.safetensors` named by
// a `model.safetensors.index.json` ({"metadata": {...}, "weight_map":
// {tensor: shard}}), or a model directory holding either. Checkpoint opens
// any of the three as one set of tensors, every shard memory-mapped and
// validated, and checks the index against the shards (each tensor in
// exactly the shard the map names, no shard outside the directory).
//
// Hub checkpoints also differ from the model growc runs in their element
// types (bf16 or f16 where growc keeps f32 master weights) and in tensors
// that are not parameters (RoPE buffers, the tied head saved twice). The
// exact conversions and those name rules live here, shared by both
// executors (through planParamLoad, Executor.h) and by growc's checkpoint
// migration, so that every reader accepts the same files.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_CHECKPOINT_H
#define GROWC_RUNTIME_CHECKPOINT_H

#include "growc/runtime/Safetensors.h"
#include "growc/runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace growc::rt {

/// The file names save_pretrained uses, which a model directory holds.
inline constexpr const char *kCheckpointFileName = "model.safetensors";
inline constexpr const char *kCheckpointIndexName =
    "model.safetensors.index.json";

/// One entry of an index's weight_map.
struct CheckpointIndexEntry {
  std::string tensor;
  /// The shard's file name, relative to the index's directory.
  std::string shard;
};

/// Parses the text of a `model.safetensors.index.json` (`path` names it in
/// messages): an object whose "weight_map" maps every tensor name to a
/// shard, each shard a relative path that stays inside the index's
/// directory (no absolute path, no `..` component). "metadata", when
/// present, must be an object; other members are ignored, as transformers
/// does. Entries come back sorted by tensor name.
StatusOr<std::vector<CheckpointIndexEntry>>
parseCheckpointIndex(std::string_view text, const std::string &path);

/// The tensors of one checkpoint, whichever way it is stored.
class Checkpoint {
public:
  /// Opens `path`: a directory (holding `model.safetensors` or
  /// `model.safetensors.index.json`, not both), an index (a name ending in
  /// `.json`) or a single safetensors file. An index's shards are opened and
  /// validated, and every tensor must sit in exactly the shard the index
  /// names.
  static StatusOr<Checkpoint> open(const std::string &path);

  /// One open file, implicitly, so that whatever reads a Checkpoint also
  /// reads a SafetensorsFile: a view of a file that the caller keeps alive
  /// (as a std::string_view of a std::string), or the owner of a file moved
  /// in.
  Checkpoint(const SafetensorsFile &file);
  Checkpoint(SafetensorsFile &&file);

  Checkpoint(Checkpoint &&) noexcept;
  Checkpoint &operator=(Checkpoint &&) noexcept;
  ~Checkpoint();

  /// The tensor called `name`, or nullptr. O(log n).
  const TensorView *find(std::string_view name) const;
  /// Every tensor of every shard, sorted by name.
  const std::vector<TensorView> &tensors() const { return tensors_; }
  /// The "__metadata__" of the file, or of the shards together (a key that
  /// shards repeat with the same value appears once; different values are
  /// an error when opening).
  const std::vector<std::pair<std::string, std::string>> &metadata() const {
    return metadata_;
  }
  /// What was opened: the file, the index or the directory.
  const std::string &path() const { return path_; }
  /// The file holding `tensor` (one of tensors()), for messages.
  const std::string &fileOf(const TensorView &tensor) const;

private:
  Checkpoint() = default;
  static StatusOr<Checkpoint> openIndex(const std::string &indexPath,
                                        const std::string &displayPath);
  void addFile(const SafetensorsFile &file);

  std::string path_;
  /// The shards this checkpoint opened (empty for a view).
  std::vector<SafetensorsFile> owned_;
  std::vector<std::string> files_;
  std::vector<TensorView> tensors_;
  /// files_ index of each of tensors_.
  std::vector<uint32_t> fileIndex_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

//===----------------------------------------------------------------------===//
// Element types
//===----------------------------------------------------------------------===//

/// Whether every value of `from` has an exact `to` value: equal types, and
/// BF16 or F16 into F32 (the f32 master weights). Anything else would round
/// or overflow, so growc refuses it rather than change the weights.
bool convertsExactly(DType from, DType to);

/// Writes `tensor`'s elements as `to` into `dst` (numElements() *
/// dtypeSize(to) bytes; no alignment needed). Precondition:
/// convertsExactly(tensor.dtype, to). NaN payloads, infinities, signed
/// zeros and subnormals are kept.
void convertTensor(const TensorView &tensor, DType to, void *dst);

/// One bf16 / f16 value (its bits) as the f32 it denotes.
float widenBf16(uint16_t bits);
float widenF16(uint16_t bits);

//===----------------------------------------------------------------------===//
// Tensors that are not parameters
//===----------------------------------------------------------------------===//

/// The Hugging Face names of the embedding and of the output head, which a
/// tied model (no lm_head parameter) shares with the embedding.
inline constexpr const char *kEmbedName = "model.embed_tokens.weight";
inline constexpr const char *kLmHeadName = "lm_head.weight";

/// Buffers that Llama checkpoints on the Hub carry beside the parameters
/// and that growc recomputes from the config: the RoPE tables
/// (`model.rotary_emb.{inv_freq,cos_cached,sin_cached}` and, as
/// transformers before 4.31 saved them,
/// `model.layers.N.self_attn.rotary_emb.…`).
bool isIgnoredBuffer(std::string_view name);

/// For a tied model: checks that the checkpoint's `lm_head.weight` holds
/// the embedding `embed` once both are converted to `dtype` (bit for bit,
/// shape included); an error naming the file and the first difference
/// otherwise. Precondition: both convert exactly to `dtype`.
Status checkTiedHead(const Checkpoint &checkpoint, const TensorView &head,
                     const TensorView &embed, DType dtype);

} // namespace growc::rt

#endif // GROWC_RUNTIME_CHECKPOINT_H
