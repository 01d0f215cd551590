// Python str operations on UTF-8 text, as the templates call them: strip, split, case changes,
// splitlines, find, and the two formatting mini-languages (% and str.format).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja_value.h"

namespace dragon::chat::jinja::text {

// str.strip / lstrip / rstrip; `chars` absent means whitespace.
std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// str.split / rsplit; `sep` absent means runs of whitespace. maxsplit < 0 means no limit.
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit, bool from_right);
std::vector<std::string> splitlines(std::string_view s, bool keepends = false);
std::string lower(std::string_view s);
std::string upper(std::string_view s);
std::string title(std::string_view s);       // str.title()
std::string capitalize(std::string_view s);  // str.capitalize()
std::string replace(std::string_view s, std::string_view old, std::string_view replacement, int64_t count = -1);
// str.find / rfind in code points (-1 when absent), with optional start/end in code points.
int64_t find(std::string_view s, std::string_view sub, std::optional<int64_t> start, std::optional<int64_t> end, bool reverse);
int64_t count(std::string_view s, std::string_view sub);
bool all_chars(std::string_view s, bool (*pred)(uint32_t));  // str.isdigit() etc.: non-empty and all match

// "fmt % args" (printf-style) and "fmt".format(*args, **kwargs).
std::string percent_format(std::string_view format, const CallArgs& args);
std::string brace_format(std::string_view format, const CallArgs& args);

}  // namespace dragon::chat::jinja::text
