//===- growc-run.cpp - The growc runtime's command line -------------------===//
//
// Runs compiled growc artifacts without MLIR or LLVM. Each command lives in
// its own file (Commands.h) over the runtime library; this file only builds
// the command line and dispatches:
//
//   growc-run <command> [options]      growc-run <command> --help
//
// Every error is one line on stderr and exit status 1.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "growc/Version.h"

#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

using namespace growc::rt;

namespace {

constexpr const char *kDescription =
    "growc-run: runs a compiled growc artifact (ART: its kernels file x.so /\n"
    "x.ptx, whose plan x.so.plan.json / x.ptx.plan.json lies beside it, or\n"
    "that plan).";

constexpr const char *kEnvironment =
    "Environment:\n"
    "  GROWC_NUM_THREADS  Default for --threads. OpenBLAS runs single-\n"
    "                     threaded inside growc's own threads. A rank of a\n"
    "                     data-parallel run defaults to the cores divided\n"
    "                     by the ranks on its machine.\n"
    "  GROWC_MPIRUN       The mpirun that train --nproc uses (default:\n"
    "                     PATH's).\n"
    "  GROWC_LIBCUDA, GROWC_LIBCUBLASLT, GROWC_LIBNCCL\n"
    "                     Paths of the CUDA libraries opened at run time\n"
    "                     (default: libcuda.so.1, libcublasLt.so.13/.12,\n"
    "                     libnccl.so.2 from the loader's search path).\n"
    "  GROWC_COLLECTIVE   auto (default), single, mpi or tcp: how ranks\n"
    "                     communicate (docs/training.md).\n"
    "\n"
    "growc-run <command> --help lists a command's options.";

int run(int argc, char **argv) {
  RawArgs raw;
  for (int i = 2; i < argc; ++i)
    raw.afterCommand.emplace_back(argv[i]);

  CLI::App app(kDescription, "growc-run");
  app.allow_extras();
  app.footer(kEnvironment);
  app.set_version_flag("--version", std::string("growc-run " GROWC_VERSION
                                                " (commit " GROWC_COMMIT ")"));
  std::vector<Command> commands = addForwardCommands(app);
  commands.push_back(addTrainCommand(app, raw));
  commands.push_back(addEvalCommand(app));
  commands.push_back(addAnalyzeCommand(app));
  commands.push_back(addReportCommand(app));
  commands.push_back(addSampleCommand(app));
  commands.push_back(addTokenizeCommand(app));
  commands.push_back(addExportCommand(app));
  commands.push_back(addCostCommand(app));

  // Usage errors name the command they are about.
  std::string prefix;
  if (argc > 1)
    for (const Command &command : commands)
      if (command.app->get_name() == argv[1])
        prefix = command.app->get_name() + ": ";
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &help) {
    return app.exit(help);
  } catch (const CLI::CallForVersion &version) {
    return app.exit(version);
  } catch (const CLI::ParseError &error) {
    return fail(prefix + describeParseError(error));
  }
  std::vector<std::string> extra = app.remaining();
  if (!extra.empty() && extra[0].size() > 1 && extra[0][0] == '-')
    return fail("unknown option '" + extra[0] +
                "' before the command (see growc-run --help)");
  for (const Command &command : commands) {
    if (!command.app->parsed())
      continue;
    if (Status status = checkParsed(*command.app); !status.isOk())
      return fail(prefix + status.message());
    return command.run();
  }
  if (extra.empty())
    return fail("missing command (see growc-run --help)");
  return fail("unknown command '" + extra[0] + "' (see growc-run --help)");
}

} // namespace

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc &) {
    return fail("out of memory");
  } catch (const std::exception &e) {
    return fail(std::string("internal error: ") + e.what());
  }
}
