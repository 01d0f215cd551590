// A progress bar on stderr: items done, running accuracy, time per item and the time left.
// Redrawn in place on a terminal; on a pipe or file one line per 10% so logs stay short.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace dragon::eval {

class ProgressBar {
 public:
  ProgressBar(int64_t total, int64_t already_done, bool enabled);
  void update(int64_t done, int64_t correct);
  void finish();

 private:
  std::string line(int64_t done, int64_t correct) const;

  int64_t total_, start_done_;
  bool enabled_, tty_;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace dragon::eval
