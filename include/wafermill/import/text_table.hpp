/// @file text_table.hpp
/// @brief Reading delimited text tables line by line: delimiters (given or detected), quoted
/// fields, CRLF line ends, an optional header row and configurable missing-value tokens.
/// Memory is one line at a time, whatever the file's size.
#pragma once

#include <cstdint>
#include <deque>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wafermill::import {

/// @brief The delimiter that stands for "runs of spaces and tabs" (SECOM, older UCR files).
inline constexpr char kWhitespace = ' ';

/// @brief Whether the first non-blank line of a file names the columns.
enum class HeaderMode : std::uint8_t { automatic, present, absent };

/// @brief How the text of a table is written.
struct TextFormat {
  /// 0: detect per file from its first non-blank line (tab, else comma, else semicolon, else
  /// whitespace); kWhitespace: runs of spaces/tabs; any other character: that character.
  char delimiter = 0;
  /// Fields read as a missing value (NaN). The empty string stands for an empty field.
  std::vector<std::string> missing_tokens = {"NaN", "nan", "NA", "?", ""};
  HeaderMode header = HeaderMode::automatic;
};

/// @brief "auto", "tab", "comma", "semicolon", "space"/"whitespace" or a single character.
/// @throws UsageError for anything else (a multi-character delimiter, a quote, a newline).
char parse_delimiter(std::string_view name);

/// @brief The delimiter detected from a line: tab, else comma, else semicolon, else whitespace.
char detect_delimiter(std::string_view line);

/// @brief A comma-separated token list where the word `empty` stands for an empty field.
std::vector<std::string> parse_missing_tokens(std::string_view list);

/// @brief The missing-token list in the form parse_missing_tokens reads.
std::string missing_tokens_text(const std::vector<std::string>& tokens);

/// @brief Splits a line (without its line end) into fields. A field that begins with `"`
/// runs to the closing quote (`""` inside is one quote) and loses its quotes. With
/// kWhitespace, leading and trailing blanks are ignored and runs of blanks separate fields.
/// Views point into `line` or into `storage` (for unescaped quoted fields).
/// @returns nullopt on an unterminated quote, else the fields.
std::optional<std::vector<std::string_view>> split_fields(std::string_view line, char delimiter,
                                                          std::deque<std::string>& storage);

/// @brief A number, NaN for a missing-value token, or nullopt when the field is neither.
/// Accepts what strtod accepts in the C locale except hex floats; blanks around are ignored.
std::optional<double> parse_value(std::string_view field,
                                  const std::vector<std::string>& missing_tokens);

/// @brief Reads one text file line by line, stripping "\n" and "\r\n" line ends.
class LineReader {
 public:
  /// @brief Opens `path`. @throws InputError if it cannot be opened.
  explicit LineReader(std::string path);
  /// @brief The next line into `line` (valid until the next call); false at the end.
  /// @throws InputError on a read error.
  bool next(std::string_view& line);
  /// @brief 1-based number of the line last returned.
  std::uint64_t line_number() const { return line_number_; }
  /// @brief The file as given.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ifstream in_;
  std::string buffer_;
  std::uint64_t line_number_ = 0;
};

/// @brief A delimited table: each call to next_row() yields the fields of one non-blank
/// line. The first non-blank line decides the delimiter (when detected) and, per
/// TextFormat::header, whether it is a header row. Errors name the file and the line.
class TableReader {
 public:
  /// @brief Opens `path` and reads up to its first non-blank line. Columns before
  /// `first_value_column` (a label column) are ignored by header detection.
  /// @throws InputError if the file cannot be opened or its first line is malformed.
  TableReader(const std::string& path, const TextFormat& format,
              std::size_t first_value_column = 0);

  /// @brief Advances to the next data row; false at the end of the file.
  /// @throws InputError naming file and line on an unterminated quote or a read error.
  bool next_row();
  /// @brief The fields of the current row.
  std::span<const std::string_view> fields() const { return fields_; }
  /// @brief Line number (1-based) of the current row.
  std::uint64_t line_number() const { return row_line_; }
  /// @brief The file as given.
  const std::string& path() const { return lines_.path(); }
  /// @brief The header's fields (empty when the file has no header row).
  const std::vector<std::string>& header() const { return header_; }
  /// @brief Line number of the header row (0 without one).
  std::uint64_t header_line() const { return header_line_; }
  /// @brief The delimiter used for this file.
  char delimiter() const { return delimiter_; }
  /// @brief True if the file held no non-blank line at all.
  bool empty() const { return empty_; }

  /// @brief Parses fields [first, first + out.size()) of the current row into `out`
  /// (missing tokens become NaN) and returns how many were missing.
  /// @throws InputError "FILE:LINE: field K: "x" is not a number ..." on a bad field.
  std::uint64_t parse_values(std::size_t first, std::span<double> out) const;
  /// @brief "FILE:LINE: " for messages about the current row.
  std::string where() const;

 private:
  bool read_line();  // next non-blank line into fields_; false at the end

  LineReader lines_;
  TextFormat format_;
  char delimiter_ = 0;
  std::vector<std::string> header_;
  std::uint64_t header_line_ = 0;
  bool pending_ = false;  // the first line was data and has not been returned yet
  bool empty_ = false;
  std::deque<std::string> storage_;
  std::vector<std::string_view> fields_;
  std::uint64_t row_line_ = 0;
};

}  // namespace wafermill::import
