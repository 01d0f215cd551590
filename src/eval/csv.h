// RFC 4180 CSV as C-Eval ships it: comma-separated, fields in double quotes may hold commas,
// newlines and doubled quotes (""). A UTF-8 byte-order mark at the start is skipped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dragon::eval {

struct CsvRow {
  int line = 0;  // 1-based line where the record starts, for error messages
  std::vector<std::string> fields;
};

// Throws dragon::Error naming `source` and the line of an unterminated quote or a stray quote.
std::vector<CsvRow> parse_csv(std::string_view text, const std::string& source);

}  // namespace dragon::eval
