/// @file study_gate.hpp
/// @brief The nightly regression gate: a study's figures as named metrics, compared with a
/// reference study within per-metric tolerances (reference, lower and upper fraction, as
/// ReFrame's performance references).
#pragma once

#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "wafermill/report/study.hpp"

namespace wafermill::report {

/// @brief Accepted band around a reference r: [r (1 + lower), r (1 + upper)]; an absent
/// bound is unbounded on that side.
struct Tolerance {
  std::optional<double> lower;  ///< ≤ 0, e.g. −0.10
  std::optional<double> upper;  ///< ≥ 0, e.g. +0.10
};

/// @brief Tolerances by metric: the key is a full metric name ("dynamic/cpu P=4 time_s") or
/// a metric kind (the name's last word, "time_s"); a full name wins over its kind.
using Tolerances = std::map<std::string, Tolerance>;

/// @brief Defaults: time_s upper +10 %; speedup, efficiency and throughput_wafers_per_s lower
/// −10 %; imbalance upper +10 %. Other kinds are reported but not gated.
Tolerances default_tolerances();

/// @brief Reads tolerances from JSON ({"time_s": {"lower": null, "upper": 0.1}, ...}) or INI
/// ([time_s] / upper = 0.1), chosen by the first non-blank character ('{' is JSON). Keys it
/// names replace the defaults; the others stay.
/// @throws InputError naming the file and key for unreadable files, unknown fields, lower > 0
/// or upper < 0.
Tolerances read_tolerances(const std::string& path);

/// @brief The tolerance for a metric name (full name, then kind), if any.
std::optional<Tolerance> tolerance_for(const Tolerances& t, const std::string& metric);

/// @brief The study's figures by metric name "<series> P=<P> <kind>" and "<series> <kind>"
/// (kinds: time_s, speedup, efficiency, karp_flatt, imbalance, throughput_wafers_per_s,
/// serial_fraction); medians, finite values only.
std::map<std::string, double> study_metrics(const Study& s);

/// @brief The reference figures and the input fingerprints of a reference study.
struct ReferenceStudy {
  std::string source;
  std::map<std::string, double> metrics;
  std::vector<std::string> input_fingerprints;
};
/// @brief Reads a study.json (or DIR/study.json when `path` is a directory).
/// @throws InputError when it cannot be read or is not a wafermill study.
ReferenceStudy read_reference_study(const std::string& path);

/// @brief Checks every metric of `current` against `reference`, in name order.
StudyComparison compare_studies(const Study& current, const ReferenceStudy& reference,
                                const Tolerances& tolerances);

}  // namespace wafermill::report
