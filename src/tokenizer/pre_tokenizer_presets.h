// The pre-tokenizer split regexes of each vocabulary family, by the name GGUF files give them in
// `tokenizer.ggml.pre`. They are the Split patterns of the families' own tokenizer.json files
// (written for PCRE2: class intersections like [\p{L}&&[^\p{Han}]] become lookaheads).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dragon {

// Regexes applied in order (each an Isolated split), or nullopt for an unknown name.
std::optional<std::vector<std::string>> pre_tokenizer_regexes(std::string_view pre_name);

}  // namespace dragon
