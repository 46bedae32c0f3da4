//===- CommandLine.cpp - How every growc-run command is parsed ------------===//
//
// The one place where growc-run turns text into option values and words
// its usage errors (CommandLine.h).
//
//===----------------------------------------------------------------------===//

#include "CommandLine.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace growc::rt {

CLI::App *addCommand(CLI::App &parent, const std::string &name,
                     const std::string &summary, const std::string &details) {
  CLI::App *command = parent.add_subcommand(name, summary);
  // Unknown arguments are collected and reported by checkParsed, which
  // words them like the other usage errors.
  command->allow_extras();
  // Every value is kept so that checkParsed can report a duplicate.
  command->option_defaults()->multi_option_policy(
      CLI::MultiOptionPolicy::TakeLast);
  command->footer(details);
  return command;
}

int fail(const std::string &message) {
  std::fprintf(stderr, "growc-run: %s\n", message.c_str());
  return 1;
}

int fail(const Status &status) { return fail(status.message()); }

namespace {

/// A validator whose failure reads "bad value 'X' for NAME: must be WHAT".
CLI::Option *check(CLI::Option *option,
                   std::function<bool(const std::string &)> ok,
                   const std::string &what) {
  std::string name = option->get_name();
  option->check(CLI::Validator(
      [=](std::string &value) -> std::string {
        if (ok(value))
          return "";
        return "bad value '" + value + "' for " + name + ": must be " + what;
      },
      ""));
  return option;
}

bool parseLongLong(const std::string &text, long long &out) {
  char *end = nullptr;
  errno = 0;
  out = std::strtoll(text.c_str(), &end, 10);
  return !text.empty() && *end == '\0' && errno == 0;
}

} // namespace

CLI::Option *integerIn(CLI::Option *option, long long min, long long max,
                       const std::string &what) {
  std::string description = what.empty()
                                ? "an integer in [" + std::to_string(min) +
                                      ", " + std::to_string(max) + "]"
                                : what;
  return check(
      option,
      [=](const std::string &text) {
        long long n;
        return parseLongLong(text, n) && n >= min && n <= max;
      },
      description);
}

CLI::Option *numberWhere(CLI::Option *option, std::function<bool(double)> ok,
                         const std::string &what) {
  return check(
      option,
      [=](const std::string &text) {
        char *end = nullptr;
        double x = std::strtod(text.c_str(), &end);
        return !text.empty() && *end == '\0' && std::isfinite(x) && ok(x);
      },
      what);
}

CLI::Option *oneOf(CLI::Option *option,
                   const std::vector<std::string> &values) {
  std::string description;
  for (size_t i = 0; i < values.size(); ++i)
    description += (i == 0                   ? ""
                    : i + 1 == values.size() ? " or "
                                             : ", ") +
                   values[i];
  return check(
      option,
      [=](const std::string &text) {
        for (const std::string &value : values)
          if (text == value)
            return true;
        return false;
      },
      description);
}

namespace {

bool depthRangeOk(const std::string &text, long maxDepth, long &minOut,
                  long &maxOut) {
  int a = 0, b = 0, used = 0;
  long long n = 0;
  if (std::sscanf(text.c_str(), "%d-%d%n", &a, &b, &used) == 2 &&
      size_t(used) == text.size()) {
    minOut = a;
    maxOut = b;
  } else if (parseLongLong(text, n) && n >= 0 && n <= maxDepth) {
    minOut = maxOut = long(n);
  } else {
    return false;
  }
  return 0 <= minOut && minOut <= maxOut && maxOut <= maxDepth;
}

} // namespace

CLI::Option *depthRange(CLI::Option *option, long maxDepth) {
  return check(
      option,
      [=](const std::string &text) {
        long a, b;
        return depthRangeOk(text, maxDepth, a, b);
      },
      "a depth K or a range MIN-MAX within [0, " + std::to_string(maxDepth) +
          "]");
}

void parseDepthRange(const std::string &text, long &minDepth, long &maxDepth) {
  depthRangeOk(text, 1L << 30, minDepth, maxDepth);
}

CLI::Option *addFlag(CLI::App &command, const std::string &name, bool &value,
                     const std::string &description) {
  return command.add_flag(name, value, description)->disable_flag_override();
}

CLI::Option *addDevice(CLI::App &command, std::string &device) {
  return oneOf(command.add_option("--device", device,
                                  "cpu or cuda (default: the artifact's "
                                  "target); cuda runs a PTX artifact with "
                                  "libcuda and cuBLASLt, opened at run time"),
               {"cpu", "cuda"});
}

Status checkParsed(const CLI::App &command) {
  for (const CLI::Option *option : command.get_options())
    if (option->get_items_expected_max() <= 1 && option->count() > 1)
      return Status::error(option->get_name() + " is given more than once");
  std::vector<std::string> extra = command.remaining();
  if (extra.empty())
    return Status::ok();
  if (extra[0].size() > 1 && extra[0][0] == '-')
    return Status::error("unknown option '" + extra[0] + "' (see growc-run " +
                         command.get_name() + " --help)");
  return Status::error("unexpected argument '" + extra[0] +
                       "' (see growc-run " + command.get_name() + " --help)");
}

std::string describeParseError(const CLI::ParseError &error) {
  std::string message = error.what();
  // CLI11 words a validator's failure "NAME: <message>"; ours name the
  // option themselves.
  if (dynamic_cast<const CLI::ValidationError *>(&error))
    if (size_t colon = message.find(": "); colon != std::string::npos)
      return message.substr(colon + 2);
  // "NAME: 1 required TEXT missing": an option at the end without its
  // value.
  if (dynamic_cast<const CLI::ArgumentMismatch *>(&error) &&
      message.size() > 8 &&
      message.compare(message.size() - 8, 8, " missing") == 0)
    if (size_t colon = message.find(": "); colon != std::string::npos)
      return message.substr(0, colon) + " needs a value";
  // "NAME was given a disallowed flag override": `--flag=value` (CLI11
  // names the flag without its dashes here).
  const std::string override = " was given a disallowed flag override";
  if (message.size() > override.size() &&
      message.compare(message.size() - override.size(), override.size(),
                      override) == 0) {
    std::string name = message.substr(0, message.size() - override.size());
    return (name.rfind("-", 0) == 0 ? name : "--" + name) + " takes no value";
  }
  return message;
}

} // namespace growc::rt
