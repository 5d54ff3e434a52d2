/// @file feature_set.hpp
/// @brief The per-segment features wafermill extracts, and a selection of them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wafermill::features {

/// @brief One feature of a segment (wafer × sensor, or wafer × sensor × step).
/// Definitions with formulas: docs/METRICS.md, "Features".
enum class Feature : std::uint8_t {
  count,          ///< finite samples
  invalid_count,  ///< NaN/±Inf samples, skipped
  mean,
  std,            ///< ddof 1
  min,
  max,
  range,          ///< max - min
  rms,            ///< sqrt(mean(x²))
  skewness,       ///< g1 = m3 / m2^1.5, population moments
  kurtosis,       ///< g2 = m4 / m2² - 3, population moments
  slope,          ///< least squares of x against position 0..n-1 in the segment
  median,         ///< mean of the two middle values for an even count
};

/// @brief Number of features that exist.
inline constexpr std::size_t kFeatureCount = 12;

/// @brief Feature names as they appear in files, options and reports, in enum order.
inline constexpr std::array<std::string_view, kFeatureCount> kFeatureNames = {
    "count", "invalid_count", "mean", "std", "min", "max",
    "range", "rms", "skewness", "kurtosis", "slope", "median"};

/// @brief An ordered selection of features (enum order); the columns of a feature array.
class FeatureSet {
 public:
  /// @brief Every feature.
  static FeatureSet all();
  /// @brief Parses "all" or a comma-separated list of names ("mean,std,median"); blanks
  /// around names are ignored, the result is in enum order whatever the order of the list.
  /// @throws UsageError naming the unknown feature and listing the valid ones, or for an
  /// empty list.
  static FeatureSet parse(std::string_view spec);

  /// @brief True when f is selected.
  bool contains(Feature f) const { return (mask_ >> static_cast<unsigned>(f)) & 1U; }
  /// @brief Column of f in a feature array, or -1 when not selected.
  int column(Feature f) const;
  /// @brief Selected features in column order.
  std::vector<Feature> list() const;
  /// @brief Names of the selected features in column order.
  std::vector<std::string> names() const;
  /// @brief Number of selected features.
  std::size_t size() const;
  /// @brief "all" or the comma-separated names.
  std::string to_string() const;
  /// @brief Bit mask, bit i = Feature(i) selected.
  std::uint32_t mask() const { return mask_; }
  /// @brief Builds from a bit mask (as written into reports).
  /// @throws UsageError when the mask has bits at or above kFeatureCount.
  static FeatureSet from_mask(std::uint32_t mask);

 private:
  std::uint32_t mask_ = 0;
};

}  // namespace wafermill::features
