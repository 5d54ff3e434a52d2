/// @file verdict_csv.hpp
/// @brief `wafermill export`: an output's per-wafer verdicts and contributions as CSV
/// (docs/MONITORING.md "Export").
#pragma once

#include <string>

namespace wafermill::format {

/// @brief Writes one CSV row per wafer (only flagged ones when `flagged_only`) of `output` to
/// `csv_path`: wafer, label (when the output has /wafers/label), score, flag, and with a model
/// t2, spe, reason (T2, SPE, T2+SPE) and contribution_k = "sensor/feature" with step_k (the
/// recipe step of a by-step column, "all" for a whole-wafer one) and share_k.
/// @throws InputError naming the file and dataset when the output lacks /wafers/score or is
/// malformed; UsageError when csv_path cannot be written, exists and !force, or is the same
/// file as `output` (file_guard.hpp). The CSV is written under a temporary name and renamed.
void export_verdicts(const std::string& output, const std::string& csv_path, bool flagged_only,
                     bool force = false);

}  // namespace wafermill::format
