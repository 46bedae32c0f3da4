//===- ModelFolder.h - A folder written all or nothing ----------*- C++ -*-===//
//
// What growc-run export needs to make a folder appear whole or not at all:
// a staging folder beside the destination (removed unless placed), files
// written into it atomically, and the rename that puts it in place.
// Internal to the runtime library (lib/), like PlanParser.h.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_LIB_MODELFOLDER_H
#define GROWC_RUNTIME_LIB_MODELFOLDER_H

#include "growc/runtime/Status.h"

#include <memory>
#include <string>
#include <vector>

namespace growc::rt {

/// Whether `path` is a folder (following links).
bool isDirectory(const std::string &path);
/// "a/b" of "a/b/c"; "." for a bare name.
std::string parentOf(const std::string &path);
/// "c" of "a/b/c".
std::string baseName(const std::string &path);
/// The entries of a folder (without . and ..), sorted, or an error.
StatusOr<std::vector<std::string>> listFolder(const std::string &path);
/// Removes a folder this process made, with the plain files in it.
void removeFolder(const std::string &path);
/// fsync of a file or folder, best effort.
void syncPath(const std::string &path);

/// The folder under construction beside a destination `out`
/// (out + ".tmp.<pid>.<random>"); removed with its files unless `path` is
/// cleared (after placeFolder moved it).
class StagingFolder {
public:
  static StatusOr<std::unique_ptr<StagingFolder>>
  create(const std::string &out);
  ~StagingFolder();
  std::string path;

private:
  explicit StagingFolder(std::string path) : path(std::move(path)) {}
};

/// Removes the staging folders of `out` (out + ".tmp.<pid>.…") whose
/// process has ended: what an export killed midway leaves. Returns their
/// paths.
std::vector<std::string> removeStaleStaging(const std::string &out);

/// `text` as the file `path`, written atomically (writeFileAtomically).
Status writeText(const std::string &path, const std::string &text);
/// A copy of `from` at `to`, written atomically.
Status copyFile(const std::string &from, const std::string &to);
/// Puts the staged folder at `out`: a plain rename where `out` is absent or
/// an empty folder; with `replace` (an earlier folder of ours), an atomic
/// exchange, after which the earlier folder's files are removed.
Status placeFolder(const std::string &staged, const std::string &out,
                   bool replace);

} // namespace growc::rt

#endif // GROWC_RUNTIME_LIB_MODELFOLDER_H
