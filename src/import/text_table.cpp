/// @file text_table.cpp
/// @brief Delimited text tables, one line at a time (text_table.hpp).
#include "wafermill/import/text_table.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "wafermill/error.hpp"

namespace wafermill::import {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

std::string delimiter_name(char d) {
  switch (d) {
    case kWhitespace:
      return "whitespace";
    case '\t':
      return "tab";
    case ',':
      return "comma";
    case ';':
      return "semicolon";
    default:
      return std::string("'") + d + "'";
  }
}

/// A field short enough to quote in a message.
std::string excerpt(std::string_view field) {
  constexpr std::size_t kMax = 40;
  if (field.size() <= kMax) return std::string(field);
  return std::string(field.substr(0, kMax)) + "...";
}

}  // namespace

char parse_delimiter(std::string_view name) {
  if (name == "auto") return 0;
  if (name == "tab" || name == "\\t") return '\t';
  if (name == "comma") return ',';
  if (name == "semicolon") return ';';
  if (name == "space" || name == "whitespace") return kWhitespace;
  if (name.size() == 1 && name[0] != '"' && name[0] != '\n' && name[0] != '\r') return name[0];
  throw UsageError("--delimiter \"" + std::string(name) +
                   "\": expected auto, tab, comma, semicolon, space or one character other "
                   "than a quote");
}

char detect_delimiter(std::string_view line) {
  if (line.find('\t') != std::string_view::npos) return '\t';
  if (line.find(',') != std::string_view::npos) return ',';
  if (line.find(';') != std::string_view::npos) return ';';
  return kWhitespace;
}

std::vector<std::string> parse_missing_tokens(std::string_view list) {
  std::vector<std::string> tokens;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = std::min(list.find(',', begin), list.size());
    const std::string_view token = trim(list.substr(begin, end - begin));
    tokens.emplace_back(token == "empty" ? std::string_view() : token);
    if (end == list.size()) break;
    begin = end + 1;
  }
  return tokens;
}

std::string missing_tokens_text(const std::vector<std::string>& tokens) {
  std::string s;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    s += (i ? "," : "") + (tokens[i].empty() ? std::string("empty") : tokens[i]);
  }
  return s;
}

std::optional<std::vector<std::string_view>> split_fields(std::string_view line, char delimiter,
                                                          std::deque<std::string>& storage) {
  std::vector<std::string_view> fields;
  const bool blanks = delimiter == kWhitespace;
  std::size_t i = 0;
  const std::size_t n = line.size();
  if (blanks) {
    while (i < n && is_blank(line[i])) ++i;
    if (i == n) return fields;
  }
  while (true) {
    if (!blanks) {
      // Blanks around a quoted field do not count (`1, "a b", 3`).
      std::size_t j = i;
      while (j < n && is_blank(line[j])) ++j;
      if (j < n && line[j] == '"') i = j;
    }
    std::size_t end = i;
    if (i < n && line[i] == '"') {
      // Quoted field: runs to the closing quote; "" inside is one quote.
      std::size_t j = i + 1;
      bool escaped = false;
      while (true) {
        if (j >= n) return std::nullopt;
        if (line[j] == '"') {
          if (j + 1 < n && line[j + 1] == '"') {
            escaped = true;
            j += 2;
            continue;
          }
          break;
        }
        ++j;
      }
      std::string_view inside = line.substr(i + 1, j - i - 1);
      if (escaped) {
        std::string s;
        for (std::size_t k = 0; k < inside.size(); ++k) {
          s += inside[k];
          if (inside[k] == '"') ++k;  // skip the second quote of ""
        }
        inside = storage.emplace_back(std::move(s));
      }
      fields.push_back(inside);
      end = j + 1;
      while (end < n && is_blank(line[end]) && !(blanks == false && line[end] == delimiter)) ++end;
    } else {
      while (end < n && !(blanks ? is_blank(line[end]) : line[end] == delimiter)) ++end;
      fields.push_back(line.substr(i, end - i));
    }
    if (blanks) {
      while (end < n && is_blank(line[end])) ++end;
      if (end == n) return fields;
      i = end;
    } else {
      if (end >= n) return fields;
      if (line[end] != delimiter) return std::nullopt;  // text after a closing quote
      i = end + 1;
      if (i == n) {  // a trailing delimiter ends an empty last field
        fields.emplace_back();
        return fields;
      }
    }
  }
}

std::optional<double> parse_value(std::string_view field,
                                  const std::vector<std::string>& missing_tokens) {
  const std::string_view t = trim(field);
  for (const auto& token : missing_tokens) {
    if (t == token) return std::numeric_limits<double>::quiet_NaN();
  }
  if (t.empty()) return std::nullopt;
  // from_chars takes no leading '+', which text exports do write.
  const std::string_view digits = t.front() == '+' ? t.substr(1) : t;
  double value = 0.0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value,
                                         std::chars_format::general);
  if (ptr != digits.data() + digits.size()) return std::nullopt;
  // Out of range: strtod's answer (±HUGE_VAL or a denormal/0) is what a text reader expects.
  if (ec == std::errc::result_out_of_range) {
    return std::strtod(std::string(digits).c_str(), nullptr);
  }
  if (ec != std::errc()) return std::nullopt;
  return value;
}

// ---------------------------------------------------------------------------------------------
// LineReader

LineReader::LineReader(std::string path) : path_(std::move(path)), in_(path_, std::ios::binary) {
  if (!in_) throw InputError(path_ + ": cannot open for reading");
}

bool LineReader::next(std::string_view& line) {
  if (!std::getline(in_, buffer_)) {
    if (in_.bad()) {
      throw InputError(path_ + ":" + std::to_string(line_number_ + 1) + ": read error");
    }
    return false;
  }
  ++line_number_;
  if (!buffer_.empty() && buffer_.back() == '\r') buffer_.pop_back();
  line = buffer_;
  return true;
}

// ---------------------------------------------------------------------------------------------
// TableReader

TableReader::TableReader(const std::string& path, const TextFormat& format,
                         std::size_t first_value_column)
    : lines_(path), format_(format), delimiter_(format.delimiter) {
  if (!read_line()) {
    empty_ = true;
    return;
  }
  bool header = format_.header == HeaderMode::present;
  if (format_.header == HeaderMode::automatic) {
    // A header: no value column of the first line is a number, and some column is text that
    // is not a missing token. A line mixing numbers and text is data, so a bad number on
    // line 1 is reported as such rather than taken for column names.
    bool any_number = false;
    bool any_text = false;
    for (std::size_t i = first_value_column; i < fields_.size(); ++i) {
      const auto v = parse_value(fields_[i], format_.missing_tokens);
      if (!v)
        any_text = true;
      else if (!std::isnan(*v))
        any_number = true;
    }
    header = any_text && !any_number;
  }
  if (header) {
    header_.assign(fields_.begin(), fields_.end());
    header_line_ = row_line_;
  } else {
    pending_ = true;
  }
}

bool TableReader::read_line() {
  std::string_view line;
  while (lines_.next(line)) {
    if (trim(line).empty()) continue;  // blank lines (and a trailing empty line) carry no row
    if (delimiter_ == 0) delimiter_ = detect_delimiter(line);
    storage_.clear();
    auto fields = split_fields(line, delimiter_, storage_);
    row_line_ = lines_.line_number();
    if (!fields) {
      throw InputError(where() + "unbalanced quote (fields are separated by " +
                       delimiter_name(delimiter_) + ")");
    }
    fields_ = std::move(*fields);
    return true;
  }
  return false;
}

bool TableReader::next_row() {
  if (pending_) {
    pending_ = false;
    return true;
  }
  return !empty_ && read_line();
}

std::uint64_t TableReader::parse_values(std::size_t first, std::span<double> out) const {
  std::uint64_t missing = 0;
  for (std::size_t k = 0; k < out.size(); ++k) {
    const std::string_view field = fields_[first + k];
    const auto v = parse_value(field, format_.missing_tokens);
    if (!v) {
      throw InputError(where() + "field " + std::to_string(first + k + 1) + ": \"" +
                       excerpt(field) + "\" is not a number (missing-value tokens: " +
                       missing_tokens_text(format_.missing_tokens) + "; fields separated by " +
                       delimiter_name(delimiter_) + ")");
    }
    if (std::isnan(*v)) ++missing;
    out[k] = *v;
  }
  return missing;
}

std::string TableReader::where() const {
  return lines_.path() + ":" + std::to_string(row_line_) + ": ";
}

}  // namespace wafermill::import
