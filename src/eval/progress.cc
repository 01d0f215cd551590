#include "eval/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace dragon::eval {

ProgressBar::ProgressBar(int64_t total, int64_t already_done, bool enabled)
    : total_(total), start_done_(already_done), enabled_(enabled && total > 0), tty_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()) {}

std::string ProgressBar::line(int64_t done, int64_t correct) const {
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(kWidth * done / total_);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int64_t fresh = done - start_done_;
  const double per_item = fresh > 0 ? elapsed / static_cast<double>(fresh) : 0.0;
  const double left = per_item * static_cast<double>(total_ - done);
  return fmt::format("[{}{}] {}/{} ({:.0f}%)  accuracy {:.1f}%  {:.2f} s/item  ETA {:.0f} s", std::string(filled, '#'),
                     std::string(kWidth - filled, '.'), done, total_, 100.0 * done / total_,
                     done ? 100.0 * correct / done : 0.0, per_item, left);
}

void ProgressBar::update(int64_t done, int64_t correct) {
  if (!enabled_) return;
  if (tty_) {
    fmt::print(stderr, "\r{}\x1b[K", line(done, correct));
  } else {
    const int decile = static_cast<int>(10 * done / total_);
    if (decile == last_decile_) return;
    last_decile_ = decile;
    fmt::print(stderr, "{}\n", line(done, correct));
  }
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (enabled_ && tty_) fmt::print(stderr, "\n");
}

}  // namespace dragon::eval
