//===- ArtifactSet.cpp - the files of one output, written all or none -----===//
//
// Every file growc writes (kernels file, plans, the analysis manifest, a
// migrated checkpoint, IR) belongs to a set that must appear whole: a plan
// beside a kernels file it was not compiled with is a silent wrong result.
// So each file goes to a temporary in its own directory (a rename never
// crosses file systems), every write and close is checked (an unchecked
// raw_fd_ostream error is what makes LLVM print "LLVM ERROR: IO failure"
// and abort), and only when every file of the set is complete are they
// renamed into place: kernels files and data first, plans last, so that a
// crash between two renames leaves plans the kernels-file hash check
// refuses rather than a silently mixed set. Temporaries not committed are
// removed, also on Ctrl-C (llvm::sys::RemoveFileOnSignal).
//
//===----------------------------------------------------------------------===//

#include "growc/Driver.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace growc;

ArtifactSet::~ArtifactSet() {
  for (const File &file : files)
    if (!file.committed)
      discard(file.temp);
}

void ArtifactSet::discard(llvm::StringRef temp) {
  llvm::sys::fs::remove(temp);
  llvm::sys::DontRemoveFileOnSignal(temp);
}

FailureOr<std::string> ArtifactSet::stage(llvm::StringRef path, bool plan) {
  for (const File &file : files)
    if (file.path == path)
      return reportError("internal error: '" + path +
                         "' is written twice in one artifact set");
  // Hidden, and named after the file it becomes, so that a temporary left
  // by a SIGKILL says what it was.
  llvm::SmallString<128> model(llvm::sys::path::parent_path(path));
  llvm::sys::path::append(model,
                          "." + llvm::sys::path::filename(path) + ".tmp%%%%%%");
  llvm::SmallString<128> temp;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(model, temp))
    return reportError("cannot write '" + path + "': " + ec.message());
  llvm::sys::RemoveFileOnSignal(temp);
  files.push_back({path.str(), std::string(temp), plan, false});
  return std::string(temp);
}

LogicalResult
ArtifactSet::write(llvm::StringRef path,
                   llvm::function_ref<void(llvm::raw_ostream &)> fill,
                   bool plan) {
  FailureOr<std::string> temp = stage(path, plan);
  if (failed(temp))
    return failure();
  std::error_code ec;
  llvm::raw_fd_ostream os(*temp, ec);
  if (ec)
    return reportError("cannot write '" + path + "': " + ec.message());
  fill(os);
  os.close();
  if (os.has_error()) {
    std::string reason = os.error().message();
    os.clear_error(); // checked: the stream must not abort the process
    return reportError("cannot write '" + path + "': " + reason);
  }
  return success();
}

LogicalResult ArtifactSet::writeText(llvm::StringRef path, llvm::StringRef text,
                                     bool plan) {
  return write(
      path, [&](llvm::raw_ostream &os) { os << text; }, plan);
}

std::string ArtifactSet::finalNames(std::string message) const {
  for (const File &file : files)
    for (size_t pos = message.find(file.temp); pos != std::string::npos;
         pos = message.find(file.temp, pos + file.path.size()))
      message.replace(pos, file.temp.size(), file.path);
  return message;
}

LogicalResult ArtifactSet::commit() {
  for (bool plans : {false, true})
    for (File &file : files) {
      if (file.plan != plans)
        continue;
      if (std::error_code ec = llvm::sys::fs::rename(file.temp, file.path))
        return reportError("cannot write '" + file.path + "': " + ec.message());
      llvm::sys::DontRemoveFileOnSignal(file.temp);
      file.committed = true;
    }
  return success();
}
