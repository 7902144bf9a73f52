// The `adamas` command line: subcommands register themselves (commands.h); errors from the
// library arrive as adamas::Error and leave with "error: ..." and a non-zero exit status.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "adamas/error.h"
#include "commands.h"

namespace {
constexpr int kExitRuntimeError = 1;
constexpr int kExitUsageError = 2;
}  // namespace

int main(int argc, char** argv) {
  // Decode steps run many short parallel regions back to back: idle OpenMP threads that sleep
  // take milliseconds to wake on small VMs (measured: 8 ms stalls per region on a 2-vCPU
  // machine). Spin instead, unless the user chose a policy.
  setenv("OMP_WAIT_POLICY", "active", 0);
  CLI::App app{"adamas: Hadamard sparse attention for long-context LLM decoding"};
  app.require_subcommand(1);
  adamas::cli::register_bench_attn(app);
  adamas::cli::register_bench_e2e(app);
  adamas::cli::register_generate(app);
  adamas::cli::register_ppl(app);
  adamas::cli::register_passkey(app);
  adamas::cli::register_recall(app);
  adamas::cli::register_sweep(app);
  adamas::cli::register_logits(app);
  adamas::cli::register_demo(app);
  adamas::cli::register_jobs(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsageError;
  } catch (const adamas::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return kExitRuntimeError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return kExitRuntimeError;
  }
  return 0;
}
