// A progress bar on stderr for `dragon convert` / `dragon quantize`: a bar, percent, bytes
// written, rate, time left and the tensor being written. Drawn in place only when stderr is a
// terminal; otherwise nothing (logs and pipes stay clean).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace dragon {

class ProgressBar {
 public:
  explicit ProgressBar(uint64_t total_bytes);
  // `done_bytes` written so far; `what` names the current item.
  void update(uint64_t done_bytes, const std::string& what);
  void finish();  // ends the line (if one was drawn)
  bool drawing() const { return tty_; }

 private:
  uint64_t total_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
};

// "1.5 GiB", "12.0 MiB", "512 B".
std::string human_bytes(double bytes);

}  // namespace dragon
