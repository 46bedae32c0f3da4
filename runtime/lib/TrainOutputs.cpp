//===- TrainOutputs.cpp - What a training run writes, kept safe -----------===//
//
// The lock, the checks before the first step, the metrics log and the run
// options of TrainOutputs.h. The metrics are cut back on resume by reading
// the lines back rather than by a byte offset recorded in the checkpoint:
// the lines say their own step, so the cut is right whatever happened to
// the file after the checkpoint (more steps, a line cut short by kill -9,
// a resume from an older checkpoint than the last), and a file that is
// not a metrics file is refused instead of cut at a meaningless offset.
//
//===----------------------------------------------------------------------===//

#include "growc/runtime/TrainOutputs.h"

#include "growc/runtime/Safetensors.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace growc::rt {

namespace {

std::string errnoText(int err = errno) { return std::strerror(err); }

/// The folder and the file name of `path`.
std::pair<std::string, std::string> splitPath(const std::string &path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos)
    return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

} // namespace

//===----------------------------------------------------------------------===//
// The checkpoint path
//===----------------------------------------------------------------------===//

StatusOr<std::unique_ptr<OutputLock>>
OutputLock::acquire(const std::string &out) {
  const std::string lockPath = out + ".lock";
  // Another run may remove the lock file between our open and our flock;
  // then the lock we got is on a file nobody else will find, so try again
  // on the file now at the path.
  for (int attempt = 0; attempt < 16; ++attempt) {
    int fd = ::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
      return Status::error("--out " + out + ": cannot create its lock file " +
                           lockPath + ": " + errnoText());
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      char pid[32] = {};
      ssize_t n = ::pread(fd, pid, sizeof pid - 1, 0);
      ::close(fd);
      if (err != EWOULDBLOCK)
        return Status::error(lockPath + ": cannot lock it: " + errnoText(err));
      std::string holder = n > 0 ? std::string(pid, size_t(n)) : "";
      holder.erase(std::remove(holder.begin(), holder.end(), '\n'),
                   holder.end());
      return Status::error(
          "--out " + out + " is being written by another growc-run train" +
          (holder.empty() ? std::string() : " (PID " + holder + ")") +
          ", which holds " + lockPath +
          "; wait for it to end or choose another --out");
    }
    struct stat held, now;
    if (::fstat(fd, &held) != 0 || ::stat(lockPath.c_str(), &now) != 0 ||
        held.st_ino != now.st_ino || held.st_dev != now.st_dev) {
      ::close(fd);
      continue;
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
      int err = errno;
      ::unlink(lockPath.c_str());
      ::close(fd);
      return Status::error(lockPath + ": cannot write it: " + errnoText(err));
    }
    return std::unique_ptr<OutputLock>(new OutputLock(fd, lockPath));
  }
  return Status::error(lockPath + ": cannot lock it (it keeps being replaced)");
}

OutputLock::~OutputLock() {
  // Unlinked while still held, so that a run waiting for it finds either
  // this file locked or no file.
  ::unlink(lockPath.c_str());
  ::close(fd);
}

Status checkCheckpointWritable(const std::string &out) {
  struct stat st;
  if (::stat(out.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return Status::error("--out " + out +
                         " is a folder; name the checkpoint file");
  auto [dir, name] = splitPath(out);
  std::string probe = out + ".tmp." + std::to_string(::getpid()) + ".probe";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status::error("--out " + out + ": cannot write a checkpoint in " +
                         dir + ": " + errnoText());
  ::close(fd);
  ::unlink(probe.c_str());
  return Status::ok();
}

std::vector<std::string> removeStaleTemporaries(const std::string &out) {
  std::vector<std::string> removed;
  auto [dir, name] = splitPath(out);
  const std::string prefix = name + ".tmp.";
  DIR *folder = ::opendir(dir.c_str());
  if (!folder)
    return removed;
  while (const dirent *entry = ::readdir(folder)) {
    std::string file = entry->d_name;
    if (file.compare(0, prefix.size(), prefix) != 0)
      continue;
    // <name>.tmp.<pid>.<suffix>, written by a process that has ended.
    size_t digits = prefix.size(), end = digits;
    while (end < file.size() && std::isdigit((unsigned char)file[end]))
      ++end;
    if (end == digits || end >= file.size() || file[end] != '.')
      continue;
    long pid = std::strtol(file.c_str() + digits, nullptr, 10);
    if (pid <= 0 || (::kill(pid_t(pid), 0) != 0 ? errno != ESRCH : true))
      continue;
    // Named as --out names its folder ("c.safetensors.tmp..." for a bare
    // name).
    size_t slash = out.rfind('/');
    std::string path =
        (slash == std::string::npos ? "" : out.substr(0, slash + 1)) + file;
    if (::unlink(path.c_str()) == 0)
      removed.push_back(path);
  }
  ::closedir(folder);
  return removed;
}

//===----------------------------------------------------------------------===//
// Metrics
//===----------------------------------------------------------------------===//

namespace {

/// Whether a metrics line belongs to the first `steps` steps of the run:
/// a step's line of step <= steps, a growth event before it (a growth step
/// at `steps` runs again after the resume). End-of-run summaries belong to
/// an invocation, not to steps, and are cut.
bool belongsBefore(const JsonValue &line, int64_t steps) {
  if (const JsonValue *step = line.find("step"))
    return step->asInt64() && *step->asInt64() <= steps;
  const JsonValue *event = line.find("event");
  const JsonValue *at = line.find("at_step");
  return event && event->asString() == "grow" && at && at->asInt64() &&
         *at->asInt64() < steps;
}

/// The text of `path` cut back to the lines before `steps`; nullopt when
/// there is no such file.
StatusOr<std::optional<std::string>>
linesBefore(const std::string &path, int64_t steps, int64_t &dropped) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT)
      return std::optional<std::string>();
    return Status::error("--metrics " + path +
                         ": cannot read it: " + errnoText());
  }
  std::stringstream whole;
  whole << in.rdbuf();
  const std::string text = whole.str();
  std::string kept;
  size_t begin = 0;
  for (int64_t lineNo = 1; begin < text.size(); ++lineNo) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) {
      // The last line, cut short by a killed run.
      ++dropped;
      break;
    }
    std::string_view line(text.data() + begin, end - begin);
    begin = end + 1;
    if (line.empty())
      continue;
    StatusOr<JsonValue> parsed = parseJson(line);
    if (!parsed.isOk() || !parsed->isObject())
      return Status::error(
          "--metrics " + path + ":" + std::to_string(lineNo) +
          ": not a JSON line of growc-run train's metrics, so the file "
          "cannot be cut back to the checkpoint's step; move it away or "
          "choose another --metrics");
    if (belongsBefore(*parsed, steps)) {
      kept.append(line);
      kept += '\n';
    } else {
      ++dropped;
    }
  }
  return std::optional<std::string>(std::move(kept));
}

} // namespace

StatusOr<std::unique_ptr<MetricsLog>>
MetricsLog::open(const std::string &path, std::optional<int64_t> resumeStep,
                 int64_t *dropped) {
  int64_t cut = 0;
  if (resumeStep) {
    StatusOr<std::optional<std::string>> kept =
        linesBefore(path, *resumeStep, cut);
    if (!kept.isOk())
      return kept.status();
    if (*kept && cut > 0) {
      const std::string &text = **kept;
      Status written = writeFileAtomically(path, [&](std::FILE *f) {
        if (std::fwrite(text.data(), 1, text.size(), f) != text.size())
          return Status::error(path + ": " + errnoText());
        return Status::ok();
      });
      if (!written.isOk())
        return Status::error("--metrics " + path + ": " + written.message());
    }
  }
  if (dropped)
    *dropped = cut;
  std::FILE *file = std::fopen(path.c_str(), resumeStep ? "a" : "w");
  if (!file)
    return Status::error("--metrics " + path +
                         ": cannot write it: " + errnoText());
  return std::unique_ptr<MetricsLog>(new MetricsLog(file, path));
}

MetricsLog::~MetricsLog() {
  if (file)
    std::fclose(file);
}

Status MetricsLog::write(const JsonValue &line) {
  std::string text = toJsonLine(line) + "\n";
  // One write per line: a killed run leaves whole lines (and at most the
  // last one cut short), never two lines spliced.
  if (std::fwrite(text.data(), 1, text.size(), file) != text.size() ||
      std::fflush(file) != 0)
    return Status::error("--metrics " + path +
                         ": cannot write it: " + errnoText());
  return Status::ok();
}

Status MetricsLog::sync() {
  if (std::fflush(file) != 0 || ::fsync(::fileno(file)) != 0)
    return Status::error("--metrics " + path +
                         ": cannot write it: " + errnoText());
  return Status::ok();
}

Status MetricsLog::close() {
  std::FILE *f = file;
  file = nullptr;
  if (std::fclose(f) != 0)
    return Status::error("--metrics " + path +
                         ": cannot write it: " + errnoText());
  return Status::ok();
}

//===----------------------------------------------------------------------===//
// Run options
//===----------------------------------------------------------------------===//

JsonValue runOptionsJson(const std::vector<RunOption> &options) {
  JsonValue object = JsonValue::object();
  for (const RunOption &option : options)
    object.set(option.name, option.value);
  return object;
}

namespace {

std::string formatOne(const std::string &name, const JsonValue &value,
                      bool ofArtifact) {
  if (ofArtifact) { // global_batch: "global batch 8"
    std::string said = name;
    std::replace(said.begin(), said.end(), '_', ' ');
    return said + " " + toJson(value);
  }
  if (value.isBool())
    return value.asBool() ? "--" + name : "no --" + name;
  if (value.isNull()) // an option not given: no --tokenizer
    return "no --" + name;
  return "--" + name + " " +
         (value.isString() ? value.asString() : toJson(value));
}

} // namespace

std::string formatRunOptions(const std::vector<RunOption> &options) {
  std::string text;
  for (const RunOption &option : options)
    text += (text.empty() ? "" : " ") +
            formatOne(option.name, option.value, option.ofArtifact);
  return text;
}

StatusOr<ResumedOptions>
resolveResumedOptions(const std::optional<JsonValue> &recorded,
                      const std::vector<RunOption> &options,
                      const std::vector<std::string> &overrides) {
  std::string known;
  for (const RunOption &option : options)
    known += (known.empty() ? "" : ", ") + option.name;
  for (const std::string &name : overrides)
    if (std::none_of(options.begin(), options.end(),
                     [&](const RunOption &o) { return o.name == name; }))
      return Status::error("--override: '" + name +
                           "' is not an option a run records (" + known + ")");
  ResumedOptions resumed;
  std::vector<RunOption> was, says;
  for (const RunOption &option : options) {
    RunOption chosen = option;
    const JsonValue *before = recorded ? recorded->find(option.name) : nullptr;
    bool overridden =
        std::count(overrides.begin(), overrides.end(), option.name) > 0;
    if (before && !option.given) {
      chosen.value = *before;
      if (*before != option.value)
        resumed.taken.push_back(option.name);
    } else if (before && *before != option.value) {
      if (overridden) {
        resumed.overridden.push_back(option.name);
      } else {
        RunOption old = option;
        old.value = *before;
        was.push_back(old);
        says.push_back(option);
      }
    }
    resumed.options.push_back(chosen);
  }
  if (!was.empty()) {
    std::string names;
    for (const RunOption &option : says)
      names += (names.empty() ? "" : ",") + option.name;
    return Status::error("--resume: the run was started with " +
                         formatRunOptions(was) + "; this command says " +
                         formatRunOptions(says) + ". Pass --override " + names +
                         " to change them deliberately.");
  }
  return resumed;
}

StatusOr<std::optional<int64_t>> recordedTrainedContext(
    const std::string &path,
    const std::vector<std::pair<std::string, std::string>> &metadata) {
  for (const auto &[key, text] : metadata) {
    if (key != kTrainedContextKey)
      continue;
    char *end = nullptr;
    errno = 0;
    long long value = text.empty() ? 0 : std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno || value <= 0 ||
        !std::isdigit((unsigned char)text[0]))
      return Status::error(path + ": its " + kTrainedContextKey +
                           " metadata '" + text +
                           "' is not a positive token count");
    return std::optional<int64_t>(value);
  }
  return std::optional<int64_t>();
}

} // namespace growc::rt
