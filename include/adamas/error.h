// The project's one error type. Library code throws adamas::Error for bad input (files, shapes,
// parameters); the CLI catches it at the top, prints "error: ..." and exits non-zero.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace adamas {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

// Throws adamas::Error with the concatenated message parts unless `condition` holds.
// For input validation only; internal invariants use assert.
#define ADAMAS_CHECK(condition, ...)                                   \
  do {                                                                 \
    if (!(condition)) throw ::adamas::Error(::adamas::detail::concat(__VA_ARGS__)); \
  } while (0)

}  // namespace adamas
