// Kernel variants from the environment (kernel_variants.cuh).
#include "cuda/kernel_variants.cuh"

#include <cstdlib>
#include <string>

#include "adamas/error.h"

namespace adamas::cuda {

std::string env_choice(const char* name, const char* fallback, std::initializer_list<const char*> allowed) {
  const char* raw = std::getenv(name);
  const std::string value = raw && *raw ? raw : fallback;
  std::string listed;
  for (const char* option : allowed) {
    if (value == option) return value;
    listed += listed.empty() ? option : std::string(", ") + option;
  }
  throw Error(detail::concat("environment variable ", name, "='", value, "': expected one of ", listed));
}

namespace {

// Integer environment variable `name` in [low, high], or 0 when unset, empty or "auto"; throws
// adamas::Error naming the variable otherwise.
int env_int(const char* name, int low, int high) {
  const char* raw = std::getenv(name);
  if (raw == nullptr || *raw == '\0' || std::string(raw) == "auto") return 0;
  char* end = nullptr;
  const long value = std::strtol(raw, &end, 10);
  if (*end != '\0' || value < low || value > high)
    throw Error(detail::concat("environment variable ", name, "='", raw, "': expected auto or ", low, "..", high));
  return static_cast<int>(value);
}

}  // namespace

KernelVariants kernel_variants_from_env() {
  KernelVariants v;
  const std::string estimate = env_choice("ADAMAS_ESTIMATE_VARIANT", "new", {"old", "new", "bulk"});
  v.estimate = estimate == "bulk" ? EstimateVariant::kBulk
               : estimate == "new" ? EstimateVariant::kBounded
                                   : EstimateVariant::kLanePerToken;
  const std::string dense = env_choice("ADAMAS_DENSE_VARIANT", "mma", {"old", "new", "warp", "mma"});
  v.dense = dense == "warp"  ? DenseVariant::kWarpSplit
            : dense == "mma" ? DenseVariant::kMma
            : dense == "new" ? DenseVariant::kTile32K
                             : DenseVariant::kTile16K;
  v.programmatic_launch = env_choice("ADAMAS_PDL", "0", {"0", "1"}) == "1";
  const std::string step_pdl = env_choice("ADAMAS_STEP_PDL", "auto", {"0", "1", "auto"});
  v.step_pdl = step_pdl == "1" ? StepPdl::kOn : step_pdl == "auto" ? StepPdl::kAuto : StepPdl::kOff;
  v.grid_share = env_choice("ADAMAS_GRID_SHARE", "0", {"0", "1"}) == "1";
  v.step_gather_prefetch = env_choice("ADAMAS_STEP_GATHER", "prefetch", {"prefetch", "plain"}) == "prefetch";
  const std::string skew = env_choice("ADAMAS_GRID_SKEW", "spread", {"off", "window", "spread"});
  v.grid_skew = skew == "spread" ? GridSkew::kSpread : skew == "window" ? GridSkew::kWindow : GridSkew::kOff;
  v.append_chain = env_choice("ADAMAS_STEP_APPEND", "side", {"side", "chain"}) == "chain";
  const std::string asym = env_choice("ADAMAS_ASYM_VARIANT", "auto", {"old", "new", "twopass", "auto"});
  v.asym = asym == "auto"      ? AsymVariant::kAuto
           : asym == "twopass" ? AsymVariant::kTwoPass
           : asym == "new"     ? AsymVariant::kFused
                               : AsymVariant::kRadix;
  v.asym_probe = std::stoi(env_choice("ADAMAS_ASYM_PROBE", "0", {"0", "1", "2", "3", "4", "5", "6"}));
  const std::string part = env_choice("ADAMAS_ASYM_PART", "auto", {"auto", "2048", "4096", "8192", "16384"});
  v.asym_part = part == "auto" ? 0 : std::stoi(part);
  const std::string asym_cluster = env_choice("ADAMAS_ASYM_CLUSTER", "auto", {"auto", "1", "2", "4"});
  v.asym_cluster = asym_cluster == "auto" ? 0 : std::stoi(asym_cluster);
  v.fused_attend = env_choice("ADAMAS_FUSED_ATTEND", "0", {"0", "1"}) == "1";
  const std::string step = env_choice("ADAMAS_STEP", "auto", {"auto", "cluster", "grid", "split"});
  v.step = step == "cluster" ? StepVariant::kCluster
           : step == "grid"  ? StepVariant::kGrid
           : step == "split" ? StepVariant::kSplit
                             : StepVariant::kAuto;
  const std::string blocks = env_choice("ADAMAS_STEP_BLOCKS", "3", {"3", "2", "auto"});
  v.step_blocks = blocks == "auto" ? 0 : std::stoi(blocks);
  const std::string cluster = env_choice("ADAMAS_STEP_CLUSTER", "auto", {"auto", "1", "2", "3", "4", "5", "6", "7", "8", "9",
                                                                        "10", "11", "12", "13", "14", "15", "16"});
  v.step_cluster = cluster == "auto" ? 0 : std::stoi(cluster);
  v.grid_blocks = env_int("ADAMAS_GRID_BLOCKS", 1, 32);
  const std::string grid_per_sm = env_choice("ADAMAS_GRID_PER_SM", "auto", {"auto", "2", "4"});
  v.grid_per_sm = grid_per_sm == "auto" ? 0 : std::stoi(grid_per_sm);
  v.estimate_probe = std::stoi(env_choice("ADAMAS_ESTIMATE_PROBE", "0", {"0", "1", "2", "3", "4"}));
  v.step_probe = std::stoi(env_choice("ADAMAS_STEP_PROBE", "0", {"0", "1", "2", "3"}));
  v.step_balance = env_choice("ADAMAS_STEP_SCHEDULE", "spread", {"spread", "balance"}) == "balance";
  v.step_verbose = env_choice("ADAMAS_STEP_VERBOSE", "0", {"0", "1"}) == "1";
  v.step_trace = env_choice("ADAMAS_STEP_TRACE", "0", {"0", "1"}) == "1";
  if (const char* path = std::getenv("ADAMAS_STEP_TRACE_FILE"); path != nullptr) v.step_trace_file = path;
  v.dense_trace = env_choice("ADAMAS_DENSE_TRACE", "0", {"0", "1"}) == "1";
  v.dense_splits = env_int("ADAMAS_DENSE_SPLITS", 1, 1024);
  return v;
}

std::string describe(const KernelVariants& v) {
  const char* estimate = v.estimate == EstimateVariant::kBulk      ? "bulk"
                         : v.estimate == EstimateVariant::kBounded ? "new"
                                                                   : "old";
  return detail::concat("estimate=", estimate,
                        " dense=", v.dense == DenseVariant::kWarpSplit ? "warp" : v.dense == DenseVariant::kMma ? "mma" : v.dense == DenseVariant::kTile32K ? "new" : "old",
                        " pdl=", v.programmatic_launch ? 1 : 0, " step_pdl=", v.step_pdl == StepPdl::kOn ? "1" : v.step_pdl == StepPdl::kAuto ? "auto" : "0", " grid_share=", v.grid_share ? 1 : 0, " step_gather=", v.step_gather_prefetch ? "prefetch" : "plain", " grid_skew=", v.grid_skew == GridSkew::kSpread ? "spread" : v.grid_skew == GridSkew::kWindow ? "window" : "off", " step_append=", v.append_chain ? "chain" : "side", " asym=", v.asym == AsymVariant::kAuto ? "auto" : v.asym == AsymVariant::kTwoPass ? "twopass" : v.asym == AsymVariant::kFused ? "new" : "old",
                        " asym_part=", v.asym_part == 0 ? std::string("auto") : std::to_string(v.asym_part),
                        " asym_cluster=", v.asym_cluster == 0 ? std::string("auto") : std::to_string(v.asym_cluster), " fused_attend=", v.fused_attend ? 1 : 0,
                        " step=",
                        v.step == StepVariant::kCluster ? "cluster"
                        : v.step == StepVariant::kGrid  ? "grid"
                        : v.step == StepVariant::kSplit ? "split"
                                                        : "auto",
                        " step_blocks=", v.step_blocks == 0 ? std::string("auto") : std::to_string(v.step_blocks),
                        " step_cluster=", v.step_cluster == 0 ? std::string("auto") : std::to_string(v.step_cluster),
                        " grid_blocks=", v.grid_blocks == 0 ? std::string("auto") : std::to_string(v.grid_blocks),
                        " grid_per_sm=", v.grid_per_sm == 0 ? std::string("auto") : std::to_string(v.grid_per_sm),
                        " dense_splits=", v.dense_splits == 0 ? std::string("auto") : std::to_string(v.dense_splits));
}

}  // namespace adamas::cuda
