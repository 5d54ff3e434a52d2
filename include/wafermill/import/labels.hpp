/// @file labels.hpp
/// @brief Wafer labels and timestamps: the mapping of a data set's class tokens to
/// wafermill's 0 (good) / 1 (bad), timestamp parsing, and a separate labels file read in
/// step with the data rows (UCI SECOM's `secom_labels.data`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wafermill/import/text_table.hpp"

namespace wafermill::import {

/// @brief Maps class tokens of the source ("1", "-1", "pass") to 0 (good) or 1 (bad).
class LabelMap {
 public:
  /// @brief The identity on "0" and "1".
  LabelMap();
  /// @brief Parses "TOKEN=0|1,TOKEN=0|1,..." (e.g. UCR Wafer's "1=0,-1=1").
  /// @throws UsageError on a malformed list or a target other than 0 or 1.
  static LabelMap parse(std::string_view text);
  /// @brief The label of `token`, or nullopt when the map has no entry for it. Tokens that
  /// are both numbers compare as numbers, so "1.0000000e+00" matches "1".
  std::optional<std::uint8_t> map(std::string_view token) const;
  /// @brief The map in the form parse() reads.
  std::string text() const;

 private:
  std::vector<std::pair<std::string, std::uint8_t>> entries_;
};

/// @brief Parses `text` by a strftime-like `format` (%Y %m %d %H %M %S and literal
/// characters; %% is a percent sign) as a UTC time, to seconds since 1970-01-01 00:00:00 UTC.
/// @returns nullopt if the text does not match or a field is out of range (month 13, 31/04).
std::optional<std::int64_t> parse_timestamp(std::string_view text, std::string_view format);

/// @brief How /wafers/timestamp is stored.
enum class TimestampType : std::uint8_t { unix_seconds, string };

/// @brief One row of a labels file.
struct LabelRow {
  std::uint8_t label = 0;
  std::string timestamp_text;          ///< as written (quotes removed); empty if absent
  std::optional<std::int64_t> unix_s;  ///< parsed timestamp (when present and parsed)
};

/// @brief A labels file: one row per wafer, in the order of the data rows: a class token,
/// then optionally a timestamp (quoted, or the rest of the line). Read one row at a time.
class LabelsReader {
 public:
  /// @brief Opens `path`; timestamps are parsed by `timestamp_format` (empty: kept as text
  /// only). @throws InputError if it cannot be opened or is empty.
  LabelsReader(const std::string& path, const TextFormat& format, LabelMap map,
               std::string timestamp_format);
  /// @brief The next row; nullopt at the end of the file.
  /// @throws InputError naming file and line on an unmapped class or a bad timestamp, or
  /// when some rows have a timestamp and others not.
  std::optional<LabelRow> next();
  /// @brief Line number (1-based) of the row last returned.
  std::uint64_t line_number() const { return table_.line_number(); }
  /// @brief The file as given.
  const std::string& path() const { return table_.path(); }
  /// @brief True once a row with a timestamp has been read (rows all agree, see next()).
  bool has_timestamps() const { return has_timestamps_ == 1; }

 private:
  TableReader table_;
  LabelMap map_;
  std::string timestamp_format_;
  int has_timestamps_ = -1;  // -1 before the first row, then 0 or 1
};

}  // namespace wafermill::import
