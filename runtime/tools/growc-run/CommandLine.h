//===- CommandLine.h - How every growc-run command is parsed ----*- C++ -*-===//
//
// growc-run's commands are CLI11 subcommands with the same conventions:
// `--name value` or `--name=value`; values checked by the validators below,
// whose messages read "bad value 'X' for --name: must be ..."; an option
// given twice is an error ("--name is given more than once"); an unknown
// option or a surplus argument is an error naming it; every error is one
// line "growc-run: <command>: <message>" on stderr and exit status 1.
//
//===----------------------------------------------------------------------===//

#ifndef GROWC_RUNTIME_TOOLS_GROWC_RUN_COMMANDLINE_H
#define GROWC_RUNTIME_TOOLS_GROWC_RUN_COMMANDLINE_H

#include "growc/runtime/Status.h"

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace growc::rt {

/// A growc-run command: its subcommand and what runs when it is chosen
/// (after parsing succeeded), returning the exit status.
struct Command {
  CLI::App *app = nullptr;
  std::function<int()> run;
};

/// The arguments after the command's name, as given (train --nproc passes
/// them on to its ranks).
struct RawArgs {
  std::vector<std::string> afterCommand;
};

/// Adds a subcommand with growc-run's conventions; `details` is the
/// paragraph its --help ends with.
CLI::App *addCommand(CLI::App &parent, const std::string &name,
                     const std::string &summary, const std::string &details);

/// Prints "growc-run: <message>" to stderr and returns exit status 1.
int fail(const std::string &message);
int fail(const Status &status);

// Value checks, attached to an option (they name it in their messages).

/// A whole decimal integer in [min, max]; `what` describes it ("a count in
/// [1, 1000000]"), else "an integer in [min, max]".
CLI::Option *integerIn(CLI::Option *option, long long min, long long max,
                       const std::string &what = "");
/// A finite decimal number for which `ok` holds, described by `what`.
CLI::Option *numberWhere(CLI::Option *option, std::function<bool(double)> ok,
                         const std::string &what);
/// One of `values`.
CLI::Option *oneOf(CLI::Option *option, const std::vector<std::string> &values);
/// `K` or `MIN-MAX` with 0 <= MIN <= MAX <= maxDepth.
CLI::Option *depthRange(CLI::Option *option, long maxDepth);
/// A flag: present or not, never given a value (`--verbose=1` is an
/// error).
CLI::Option *addFlag(CLI::App &command, const std::string &name, bool &value,
                     const std::string &description);
/// --device: cpu or cuda.
CLI::Option *addDevice(CLI::App &command, std::string &device);

/// Parses a value that depthRange() accepted.
void parseDepthRange(const std::string &text, long &minDepth, long &maxDepth);

/// After parsing: an option given twice, an unknown option or a surplus
/// argument of `command`, as an error naming it.
Status checkParsed(const CLI::App &command);

/// A CLI11 parse error as growc-run words it.
std::string describeParseError(const CLI::ParseError &error);

} // namespace growc::rt

#endif // GROWC_RUNTIME_TOOLS_GROWC_RUN_COMMANDLINE_H
