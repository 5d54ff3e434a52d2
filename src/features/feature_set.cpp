/// @file feature_set.cpp
/// @brief FeatureSet: parsing, naming and column lookup of a feature selection.
#include "wafermill/features/feature_set.hpp"

#include <algorithm>
#include <bit>

#include "wafermill/error.hpp"

namespace wafermill::features {
namespace {

constexpr std::uint32_t kAllMask = (1U << kFeatureCount) - 1U;

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

std::string valid_names() {
  std::string out = "all";
  for (const std::string_view name : kFeatureNames) {
    out += ", ";
    out += name;
  }
  return out;
}

}  // namespace

FeatureSet FeatureSet::all() { return from_mask(kAllMask); }

FeatureSet FeatureSet::parse(std::string_view spec) {
  const std::string_view whole = trim(spec);
  if (whole == "all") return all();
  if (whole.empty()) {
    throw UsageError("empty feature list; valid features: " + valid_names());
  }
  std::uint32_t mask = 0;
  std::size_t begin = 0;
  while (begin <= whole.size()) {
    const std::size_t comma = std::min(whole.find(',', begin), whole.size());
    const std::string_view name = trim(whole.substr(begin, comma - begin));
    if (name == "all") {
      mask |= kAllMask;
      begin = comma + 1;
      continue;
    }
    std::size_t i = 0;
    while (i < kFeatureCount && kFeatureNames[i] != name) ++i;
    if (i == kFeatureCount) {
      throw UsageError("unknown feature '" + std::string(name) + "' in feature list '" +
                       std::string(spec) + "'; valid features: " + valid_names());
    }
    mask |= 1U << i;
    begin = comma + 1;
  }
  return from_mask(mask);
}

int FeatureSet::column(Feature f) const {
  if (!contains(f)) return -1;
  const std::uint32_t below = (1U << static_cast<unsigned>(f)) - 1U;
  return std::popcount(mask_ & below);
}

std::vector<Feature> FeatureSet::list() const {
  std::vector<Feature> out;
  for (std::size_t i = 0; i < kFeatureCount; ++i) {
    if ((mask_ >> i) & 1U) out.push_back(static_cast<Feature>(i));
  }
  return out;
}

std::vector<std::string> FeatureSet::names() const {
  std::vector<std::string> out;
  for (const Feature f : list()) out.emplace_back(kFeatureNames[static_cast<std::size_t>(f)]);
  return out;
}

std::size_t FeatureSet::size() const { return static_cast<std::size_t>(std::popcount(mask_)); }

std::string FeatureSet::to_string() const {
  if (mask_ == kAllMask) return "all";
  std::string out;
  for (const std::string& name : names()) {
    if (!out.empty()) out += ',';
    out += name;
  }
  return out;
}

FeatureSet FeatureSet::from_mask(std::uint32_t mask) {
  if ((mask & ~kAllMask) != 0U) {
    throw UsageError("feature mask " + std::to_string(mask) + " has bits beyond the " +
                     std::to_string(kFeatureCount) + " known features");
  }
  FeatureSet set;
  set.mask_ = mask;
  return set;
}

}  // namespace wafermill::features
