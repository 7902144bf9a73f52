// A one-line progress bar on stderr for long runs (ppl, passkey, recall, sweeps): drawn only when
// stderr is a terminal, redrawn at most ten times a second, erased when done.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "adamas/eval/eval_common.h"

namespace adamas::cli {

class ProgressBar {
 public:
  // enabled = false (or stderr not a terminal) makes every call a no-op.
  ProgressBar(std::string label, bool enabled);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(int64_t done, int64_t total);
  // Clears the line (the caller prints results next).
  void finish();
  // A ProgressFn that forwards to update(); the bar must outlive it.
  ProgressFn callback();

 private:
  std::string label_;
  bool enabled_ = false, drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace adamas::cli
