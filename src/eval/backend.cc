#include "eval/backend.h"

namespace dragon::eval {

int argmax_index(const std::vector<double>& scores) {
  int best = -1;
  for (size_t i = 0; i < scores.size(); ++i)
    if (best < 0 || scores[i] > scores[static_cast<size_t>(best)]) best = static_cast<int>(i);
  return best;
}

}  // namespace dragon::eval
