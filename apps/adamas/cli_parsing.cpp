#include <sstream>

#include "adamas/error.h"
#include "commands.h"

namespace adamas::cli {

namespace {
std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ',')) parts.push_back(part);
  return parts;
}
}  // namespace

std::vector<Policy> parse_policy_list(const std::string& text) {
  std::vector<Policy> policies;
  if (text == "all")
    return {Policy::kFull, Policy::kStreaming, Policy::kQuest, Policy::kAdamas, Policy::kOracle};
  for (const std::string& name : split_commas(text)) policies.push_back(parse_policy(name));
  ADAMAS_CHECK(!policies.empty(), "--policies: expected a comma-separated list, got '", text, "'");
  return policies;
}

Thresholds parse_thresholds(const std::string& text) {
  const auto parts = split_commas(text);
  ADAMAS_CHECK(parts.size() == 3, "--thresholds: expected three comma-separated numbers, got '", text, "'");
  float values[3];
  for (int i = 0; i < 3; ++i) {
    try {
      size_t used = 0;
      values[i] = std::stof(parts[i], &used);
      ADAMAS_CHECK(used == parts[i].size(), "");
    } catch (...) {
      throw Error("--thresholds: '" + parts[i] + "' is not a number");
    }
  }
  const Thresholds thresholds{values[0], values[1], values[2]};
  check_thresholds(thresholds);
  return thresholds;
}

std::vector<int> parse_int_list(const std::string& text, const std::string& option_name) {
  std::vector<int> values;
  for (const std::string& part : split_commas(text)) {
    try {
      size_t used = 0;
      values.push_back(std::stoi(part, &used));
      ADAMAS_CHECK(used == part.size(), "");
    } catch (...) {
      throw Error(option_name + ": '" + part + "' is not an integer");
    }
  }
  ADAMAS_CHECK(!values.empty(), option_name, ": expected a comma-separated list of integers");
  return values;
}

}  // namespace adamas::cli
