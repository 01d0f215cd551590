// Where the demo model is: a tiny poem-writing Qwen3 that tools/demo/build_demo.sh trains and
// the repository ships (models/dragon-demo-poems.gguf), used when `dragon run` gets no model.
#pragma once

#include <string>

namespace dragon::cli {

// $DRAGON_DEMO_MODEL, else the first of <binary dir>/../models/ and <binary dir>/share/ that has
// dragon-demo-poems.gguf. Throws dragon::Error saying how to get it when there is none.
std::string demo_model_path();

}  // namespace dragon::cli
