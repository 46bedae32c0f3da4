//===- TrainOutputs.h - What a training run writes, kept safe ---*- C++ -*-===//
//
// The outputs of `growc-run train` and what it promises about them
// (docs/training.md): one run at a time writes a checkpoint path (a lock),
// the checkpoint's folder is checked writable and a killed run's temporary
// checkpoint removed before the first step, the metrics are JSON lines
// that a resumed run cuts back to its checkpoint's step, and a checkpoint
// records the options of its run so that a resume with other ones is
// refused unless the user names them.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_TRAINOUTPUTS_H
#define GROWC_RUNTIME_TRAINOUTPUTS_H

#include "growc/runtime/Json.h"
#include "growc/runtime/Status.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace growc::rt {

//===----------------------------------------------------------------------===//
// The checkpoint path
//===----------------------------------------------------------------------===//

/// An exclusive flock on `<out>.lock` (which holds the holder's PID) for
/// as long as the object lives; the kernel drops it when the process dies,
/// so a killed run leaves no stale lock. Removed on release.
class OutputLock {
public:
  /// Fails at once, naming the holder's PID, when another process holds it.
  static StatusOr<std::unique_ptr<OutputLock>> acquire(const std::string &out);
  ~OutputLock();
  OutputLock(const OutputLock &) = delete;
  OutputLock &operator=(const OutputLock &) = delete;

  const std::string &path() const { return lockPath; }

private:
  OutputLock(int fd, std::string lockPath) : fd(fd), lockPath(lockPath) {}
  int fd;
  std::string lockPath;
};

/// That a checkpoint can be written atomically at `out`: it is not a
/// folder, and a temporary file can be created beside it.
Status checkCheckpointWritable(const std::string &out);

/// Removes the temporary files of atomic writes to `out`
/// (`<out>.tmp.<pid>.<suffix>`, Safetensors.h) whose process no longer
/// runs: what a run killed while writing a checkpoint leaves. Returns the
/// paths removed.
std::vector<std::string> removeStaleTemporaries(const std::string &out);

//===----------------------------------------------------------------------===//
// Metrics
//===----------------------------------------------------------------------===//

/// The metrics file: a JSON object per line (toJsonLine, so non-finite
/// numbers are null), each line written out at once, the file synced to
/// disk at every checkpoint; every write error is an error.
class MetricsLog {
public:
  /// Opens `path` for a new run (emptied) or, with `resumeStep`, for a run
  /// resumed from a checkpoint after that many steps: the lines of steps
  /// up to it (and growth events before it) are kept, later ones and a
  /// line cut short by a killed run are dropped (the file is rewritten
  /// atomically), and new lines follow. `dropped` counts the lines cut.
  static StatusOr<std::unique_ptr<MetricsLog>>
  open(const std::string &path, std::optional<int64_t> resumeStep,
       int64_t *dropped = nullptr);
  ~MetricsLog();
  MetricsLog(const MetricsLog &) = delete;
  MetricsLog &operator=(const MetricsLog &) = delete;

  Status write(const JsonValue &line);
  /// Writes everything through to the disk (fsync).
  Status sync();
  Status close();

private:
  MetricsLog(std::FILE *file, std::string path) : file(file), path(path) {}
  std::FILE *file;
  std::string path;
};

//===----------------------------------------------------------------------===//
// Run options
//===----------------------------------------------------------------------===//

/// The safetensors metadata key under which a checkpoint records its run's
/// options, as a JSON object.
constexpr const char *kRunOptionsKey = "growc.run_options";

/// One option of a run as this command has it.
struct RunOption {
  std::string name;   ///< the flag without dashes ("lr", "grow-fraction")
  JsonValue value;    ///< its value here (the default when not given)
  bool given = false; ///< on this command line (or by the artifact)
  /// Set by the artifact and the job (global_batch), not a flag: said
  /// without dashes, "global batch 4".
  bool ofArtifact = false;
};

/// What a resume does with its checkpoint's recorded options.
struct ResumedOptions {
  /// The options of the resumed run: each recorded one unless changed
  /// deliberately, the others as this command has them.
  std::vector<RunOption> options;
  /// The names taken from the checkpoint because the command left them
  /// out and its value differs from this command's default (for the
  /// progress line), and those changed by --override.
  std::vector<std::string> taken, overridden;
};

/// `options` as the JSON object a checkpoint records.
JsonValue runOptionsJson(const std::vector<RunOption> &options);

/// A resumed run's options from those `recorded` by its checkpoint (a JSON
/// object; nullopt: the checkpoint records none) and this command's:
/// an option given here with another value than recorded is an error
/// naming every such option, unless `overrides` names it; one left out is
/// the recorded value. Names in `overrides` must be options of a run.
StatusOr<ResumedOptions>
resolveResumedOptions(const std::optional<JsonValue> &recorded,
                      const std::vector<RunOption> &options,
                      const std::vector<std::string> &overrides);

/// "--seed 1 --lr 0.001": options as a command line says them.
std::string formatRunOptions(const std::vector<RunOption> &options);

//===----------------------------------------------------------------------===//
// The trained context
//===----------------------------------------------------------------------===//

/// The safetensors metadata key under which a checkpoint records its
/// trained context: the longest sequence (tokens) its weights were trained
/// at, over every run that led to them (the run's own seq and the one its
/// --weights or --resume checkpoint recorded), as a decimal string. The
/// longest rather than the latest, because positions a model was trained
/// at stay trained when a later run uses shorter windows, as
/// max_position_embeddings does not shrink on a short fine-tune.
constexpr const char *kTrainedContextKey = "growc.trained_context";

/// The trained context `metadata` (a checkpoint's, from `path`) records:
/// nullopt when it records none; an error naming `path` when the record is
/// not a positive integer.
StatusOr<std::optional<int64_t>> recordedTrainedContext(
    const std::string &path,
    const std::vector<std::pair<std::string, std::string>> &metadata);

} // namespace growc::rt

#endif // GROWC_RUNTIME_TRAINOUTPUTS_H
