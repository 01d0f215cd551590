#include "eval/csv.h"

#include "util/error.h"

namespace dragon::eval {

std::vector<CsvRow> parse_csv(std::string_view text, const std::string& source) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::vector<CsvRow> rows;
  CsvRow row;
  std::string field;
  int line = 1;
  row.line = 1;
  bool in_quotes = false, field_quoted = false, row_has_content = false;
  int quote_line = 0;
  const auto end_field = [&] {
    row.fields.push_back(std::move(field));
    field.clear();
    field_quoted = false;
  };
  const auto end_row = [&] {
    end_field();
    if (row_has_content) rows.push_back(std::move(row));
    row = CsvRow{};
    row.line = line;
    row_has_content = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    switch (c) {
      case '"':
        if (!field.empty() || field_quoted)
          fail("{}:{}: a quote inside an unquoted field (quote the whole field and double inner quotes)", source, line);
        in_quotes = field_quoted = row_has_content = true;
        quote_line = line;
        break;
      case ',':
        row_has_content = true;
        end_field();
        break;
      case '\r':
        break;  // CRLF line ends
      case '\n':
        ++line;
        end_row();
        break;
      default:
        if (field_quoted) fail("{}:{}: text after a closing quote", source, line);
        row_has_content = true;
        field += c;
    }
  }
  if (in_quotes) fail("{}:{}: a quoted field is never closed", source, quote_line);
  end_row();
  return rows;
}

}  // namespace dragon::eval
