#include "convert/progress_bar.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

namespace dragon {

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 4) {
    bytes /= 1024.0;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, units[u]);
}

ProgressBar::ProgressBar(uint64_t total_bytes)
    : total_(std::max<uint64_t>(total_bytes, 1)), tty_(isatty(STDERR_FILENO) != 0), start_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(uint64_t done, const std::string& what) {
  if (!tty_) return;
  const double frac = std::min(1.0, double(done) / double(total_));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = secs > 0 ? done / secs : 0.0;
  const std::string eta = rate > 0 && done < total_ ? fmt::format(" ETA {:.0f}s", (total_ - done) / rate) : "";
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(frac * kWidth);
  std::string label = what.size() > 36 ? "..." + what.substr(what.size() - 33) : what;
  // \r and "erase line": the bar is redrawn in place.
  fmt::print(stderr, "\r\x1b[2K[{}{}] {:3.0f}% {} / {} {}/s{} {}", std::string(filled, '#'),
             std::string(kWidth - filled, '.'), frac * 100, human_bytes(double(done)), human_bytes(double(total_)),
             human_bytes(rate), eta, label);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (drawn_) fmt::print(stderr, "\n");
  drawn_ = false;
}

}  // namespace dragon
