/// @file labels.cpp
/// @brief Class-token mapping, timestamp parsing and the labels file (labels.hpp).
#include "wafermill/import/labels.hpp"

#include <charconv>
#include <cmath>

#include "wafermill/error.hpp"

namespace wafermill::import {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<double> as_number(std::string_view token) {
  const auto v = parse_value(token, {});
  if (!v || std::isnan(*v)) return std::nullopt;
  return v;
}

/// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant,
/// "chrono-Compatible Low-Level Date Algorithms", days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// LabelMap

LabelMap::LabelMap() : entries_{{"0", 0}, {"1", 1}} {}

LabelMap LabelMap::parse(std::string_view text) {
  LabelMap m;
  m.entries_.clear();
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    const std::string_view entry = trim(text.substr(begin, end - begin));
    const std::size_t eq = entry.rfind('=');
    const std::string_view token = eq == std::string_view::npos ? "" : trim(entry.substr(0, eq));
    const std::string_view target = eq == std::string_view::npos ? "" : trim(entry.substr(eq + 1));
    if (token.empty() || (target != "0" && target != "1")) {
      throw UsageError("--label-map \"" + std::string(text) + "\": entry \"" + std::string(entry) +
                       "\" is not TOKEN=0 or TOKEN=1 (0 good, 1 bad)");
    }
    m.entries_.emplace_back(std::string(token), target == "1" ? 1 : 0);
    begin = end + 1;
  }
  return m;
}

std::optional<std::uint8_t> LabelMap::map(std::string_view token) const {
  const std::string_view t = trim(token);
  const auto number = as_number(t);
  for (const auto& [key, label] : entries_) {
    if (key == t) return label;
    if (number) {
      const auto k = as_number(key);
      if (k && *k == *number) return label;
    }
  }
  return std::nullopt;
}

std::string LabelMap::text() const {
  std::string s;
  for (const auto& [key, label] : entries_) {
    s += (s.empty() ? "" : ",") + key + "=" + std::to_string(label);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Timestamps

std::optional<std::int64_t> parse_timestamp(std::string_view text, std::string_view format) {
  std::int64_t year = 1970;
  unsigned month = 1, day = 1, hour = 0, minute = 0, second = 0;
  std::size_t t = 0;
  // Reads 1..max_digits digits (fewer when the next character is not a digit).
  auto number = [&](std::size_t max_digits, auto& out) {
    std::size_t n = 0;
    std::int64_t v = 0;
    while (n < max_digits && t < text.size() && text[t] >= '0' && text[t] <= '9') {
      v = v * 10 + (text[t] - '0');
      ++t;
      ++n;
    }
    out = static_cast<std::remove_reference_t<decltype(out)>>(v);
    return n > 0;
  };
  for (std::size_t f = 0; f < format.size(); ++f) {
    if (format[f] != '%' || f + 1 == format.size()) {
      if (t >= text.size() || text[t] != format[f]) return std::nullopt;
      ++t;
      continue;
    }
    bool ok = true;
    switch (format[++f]) {
      case 'Y':
        ok = number(4, year);
        break;
      case 'm':
        ok = number(2, month);
        break;
      case 'd':
        ok = number(2, day);
        break;
      case 'H':
        ok = number(2, hour);
        break;
      case 'M':
        ok = number(2, minute);
        break;
      case 'S':
        ok = number(2, second);
        break;
      case '%':
        ok = t < text.size() && text[t++] == '%';
        break;
      default:
        return std::nullopt;
    }
    if (!ok) return std::nullopt;
  }
  if (t != text.size()) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  return days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
}

// ---------------------------------------------------------------------------------------------
// LabelsReader

LabelsReader::LabelsReader(const std::string& path, const TextFormat& format, LabelMap map,
                           std::string timestamp_format)
    : table_(path,
             [&] {
               // A labels file has no header row, and its delimiter is its own (SECOM: spaces).
               TextFormat f = format;
               f.header = HeaderMode::absent;
               f.delimiter = 0;
               return f;
             }()),
      map_(std::move(map)),
      timestamp_format_(std::move(timestamp_format)) {
  if (table_.empty()) throw InputError(path + ": the labels file is empty");
}

std::optional<LabelRow> LabelsReader::next() {
  if (!table_.next_row()) return std::nullopt;
  const auto fields = table_.fields();
  LabelRow row;
  const auto label = map_.map(fields[0]);
  if (!label) {
    throw InputError(table_.where() + "class \"" + std::string(fields[0]) +
                     "\" is not in the label map " + map_.text() + " (set --label-map)");
  }
  row.label = *label;
  // The timestamp is the rest of the row: one quoted field, or unquoted words rejoined.
  for (std::size_t i = 1; i < fields.size(); ++i) {
    if (i > 1) row.timestamp_text += ' ';
    row.timestamp_text += fields[i];
  }
  const int has = row.timestamp_text.empty() ? 0 : 1;
  if (has_timestamps_ >= 0 && has != has_timestamps_) {
    throw InputError(table_.where() + (has ? "has a timestamp but earlier rows have none"
                                           : "has no timestamp but earlier rows have one"));
  }
  has_timestamps_ = has;
  if (has && !timestamp_format_.empty()) {
    row.unix_s = parse_timestamp(row.timestamp_text, timestamp_format_);
    if (!row.unix_s) {
      throw InputError(table_.where() + "timestamp \"" + row.timestamp_text +
                       "\" does not match --timestamp-format \"" + timestamp_format_ + "\"");
    }
  }
  return row;
}

}  // namespace wafermill::import
