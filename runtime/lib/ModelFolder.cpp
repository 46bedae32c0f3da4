//===- ModelFolder.cpp - A folder written all or nothing ------------------===//
//
// The staging folder lives beside the destination so that the final
// rename stays on one file system; an earlier folder is swapped out with
// renameat2(RENAME_EXCHANGE) where the file system has it, so that the
// destination never goes missing, else moved aside for a moment.
//
//===----------------------------------------------------------------------===//

#include "ModelFolder.h"

#include "growc/runtime/Safetensors.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

namespace growc::rt {

bool isDirectory(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string parentOf(const std::string &path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string baseName(const std::string &path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

StatusOr<std::vector<std::string>> listFolder(const std::string &path) {
  DIR *dir = ::opendir(path.c_str());
  if (!dir)
    return Status::error(path + ": cannot open: " + std::strerror(errno));
  std::vector<std::string> names;
  while (dirent *entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..")
      names.push_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

void removeFolder(const std::string &path) {
  StatusOr<std::vector<std::string>> names = listFolder(path);
  if (names.isOk())
    for (const std::string &name : *names)
      ::unlink((path + "/" + name).c_str());
  ::rmdir(path.c_str());
}

void syncPath(const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}

StatusOr<std::unique_ptr<StagingFolder>>
StagingFolder::create(const std::string &out) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, ".tmp.%d.%08x", int(::getpid()),
                  unsigned(std::rand()) ^ unsigned(attempt * 0x9e3779b9u));
    std::string path = out + suffix;
    if (::mkdir(path.c_str(), 0777) == 0)
      return std::unique_ptr<StagingFolder>(new StagingFolder(path));
    if (errno != EEXIST)
      return Status::error("cannot create " + path + ": " +
                           std::strerror(errno));
  }
  return Status::error("cannot create a temporary folder beside " + out);
}

StagingFolder::~StagingFolder() {
  if (!path.empty())
    removeFolder(path);
}

std::vector<std::string> removeStaleStaging(const std::string &out) {
  std::vector<std::string> removed;
  std::string parent = parentOf(out);
  std::string prefix = baseName(out) + ".tmp.";
  StatusOr<std::vector<std::string>> names = listFolder(parent);
  if (!names.isOk())
    return removed;
  for (const std::string &name : *names) {
    if (name.compare(0, prefix.size(), prefix) != 0)
      continue;
    size_t digits = prefix.size(), end = digits;
    while (end < name.size() && std::isdigit((unsigned char)name[end]))
      ++end;
    if (end == digits || end >= name.size() || name[end] != '.')
      continue;
    long pid = std::strtol(name.c_str() + digits, nullptr, 10);
    // Only a process that has ended (kill says ESRCH) left it for good.
    if (pid <= 0 || ::kill(pid_t(pid), 0) == 0 || errno != ESRCH)
      continue;
    std::string path =
        (out.find('/') == std::string::npos ? std::string() : parent + "/") +
        name;
    if (!isDirectory(path))
      continue;
    removeFolder(path);
    if (!isDirectory(path))
      removed.push_back(path);
  }
  return removed;
}

Status writeText(const std::string &path, const std::string &text) {
  return writeFileAtomically(path, [&](std::FILE *f) -> Status {
    if (std::fwrite(text.data(), 1, text.size(), f) != text.size())
      return Status::error(std::string("write failed: ") +
                           std::strerror(errno));
    return Status::ok();
  });
}

Status copyFile(const std::string &from, const std::string &to) {
  std::FILE *in = std::fopen(from.c_str(), "rb");
  if (!in)
    return Status::error(from + ": cannot open: " + std::strerror(errno));
  Status status = writeFileAtomically(to, [&](std::FILE *out) -> Status {
    char buffer[1 << 16];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, in)) > 0)
      if (std::fwrite(buffer, 1, n, out) != n)
        return Status::error(std::string("write failed: ") +
                             std::strerror(errno));
    if (std::ferror(in))
      return Status::error(from + ": cannot read: " + std::strerror(errno));
    return Status::ok();
  });
  std::fclose(in);
  return status;
}

Status placeFolder(const std::string &staged, const std::string &out,
                   bool replace) {
  if (!replace) {
    if (std::rename(staged.c_str(), out.c_str()) != 0)
      return Status::error("cannot rename " + staged + " to " + out + ": " +
                           std::strerror(errno));
    syncPath(parentOf(out));
    return Status::ok();
  }
#ifdef RENAME_EXCHANGE
  if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, out.c_str(),
                  RENAME_EXCHANGE) == 0) {
    // `staged` now names the earlier folder.
    removeFolder(staged);
    syncPath(parentOf(out));
    return Status::ok();
  }
#endif
  // No exchange on this file system: move the earlier folder aside first
  // (a moment without `out`, never a half-written one).
  std::string aside = staged + ".old";
  if (std::rename(out.c_str(), aside.c_str()) != 0)
    return Status::error("cannot move " + out +
                         " aside: " + std::strerror(errno));
  if (std::rename(staged.c_str(), out.c_str()) != 0) {
    int err = errno;
    (void)std::rename(aside.c_str(), out.c_str());
    return Status::error("cannot rename " + staged + " to " + out + ": " +
                         std::strerror(err));
  }
  removeFolder(aside);
  syncPath(parentOf(out));
  return Status::ok();
}

} // namespace growc::rt
