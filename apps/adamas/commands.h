// Each subcommand of the `adamas` CLI registers itself here; the CLI stays a thin layer that
// parses options, calls the library and formats results.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "adamas/key_codes.h"
#include "adamas/selector.h"

namespace adamas::cli {

void register_bench_attn(CLI::App& app);

// Parsing helpers shared by the commands (throw adamas::Error with the option name).
std::vector<Policy> parse_policy_list(const std::string& text);
Thresholds parse_thresholds(const std::string& text);  // "t0,t1,t2"
std::vector<int> parse_int_list(const std::string& text, const std::string& option_name);

}  // namespace adamas::cli
