#include <sstream>

#include "adamas/error.h"
#include "commands.h"

namespace adamas::cli {

std::vector<std::string> parse_name_list(const std::string& text, const std::string& option_name) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ',')) parts.push_back(part);
  if (!text.empty() && text.back() == ',') parts.emplace_back();  // getline drops a trailing empty item
  ADAMAS_CHECK(!parts.empty(), option_name, ": expected a comma-separated list, got '", text, "'");
  for (const std::string& item : parts)
    ADAMAS_CHECK(!item.empty(), option_name, ": empty item in the comma-separated list '", text, "'");
  return parts;
}

std::vector<Policy> parse_policy_list(const std::string& text) {
  std::vector<Policy> policies;
  if (text == "all")
    return {Policy::kFull, Policy::kStreaming, Policy::kQuest, Policy::kAdamas, Policy::kOracle};
  for (const std::string& name : parse_name_list(text, "--policies")) policies.push_back(parse_policy(name));
  return policies;
}

std::vector<Estimator> parse_estimator_list(const std::string& text) {
  std::vector<Estimator> estimators;
  for (const std::string& name : parse_name_list(text, "--estimators")) estimators.push_back(parse_estimator(name));
  return estimators;
}

Thresholds parse_thresholds(const std::string& text) {
  const auto parts = parse_name_list(text, "--thresholds");
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
  for (const std::string& part : parse_name_list(text, option_name)) {
    try {
      size_t used = 0;
      values.push_back(std::stoi(part, &used));
      ADAMAS_CHECK(used == part.size(), "");
    } catch (...) {
      throw Error(option_name + ": '" + part + "' is not an integer");
    }
  }
  return values;
}

}  // namespace adamas::cli
