/// @file map_classifier.cpp
/// @brief The die-map pattern classifier: gradient-boosted trees whose parameters are generated
/// by tools/map_model/map_model.py into map_model_params.hpp (docs/PICTURES.md "Classifier").
#include <algorithm>
#include <stdexcept>

#include "map_model_params.hpp"
#include "wafermill/pictures/die_map.hpp"
#include "wafermill/pictures/picture_math.hpp"

namespace wafermill::pictures {

static_assert(model::kClasses == kMapPatterns, "the model's classes are the MapPatterns");

std::vector<std::string_view> model_feature_names() {
  return {std::begin(model::kFeatureNames), std::end(model::kFeatureNames)};
}

std::array<double, kMapPatterns> pattern_scores(std::span<const double> features) {
  if (features.size() != std::size_t(model::kFeatures))
    throw std::invalid_argument("pattern_scores: the model takes " +
                                std::to_string(model::kFeatures) + " features, not " +
                                std::to_string(features.size()));
  std::array<double, kMapPatterns> score{};
  for (int k = 0; k < kMapPatterns; ++k) score[k] = model::kBase[k];
  // Summed in the order the training script sums them, so its figures are this function's.
  for (int t = 0; t < model::kTrees; ++t)
    score[model::kTreeClass[t]] +=
        math::tree_leaf(features.data(), model::kTreeRoot[t], model::kNodeFeature,
                        model::kNodeThreshold, model::kNodeLeft, model::kNodeRight,
                        model::kNodeValue);
  return score;
}

MapPattern classify_pattern(const MapFeatures& f) {
  if (f.die_count == 0) return MapPattern::none;
  const std::vector<double> x = to_values(f);
  const auto score = pattern_scores(x);
  return static_cast<MapPattern>(std::max_element(score.begin(), score.end()) - score.begin());
}

}  // namespace wafermill::pictures
