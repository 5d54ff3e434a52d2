#include "wafermill/format/verdict_csv.hpp"

#include "wafermill/format/atomic_output.hpp"

#include <cstdio>
#include <fstream>
#include <vector>

#include "wafermill/error.hpp"
#include "wafermill/format/h5.hpp"

namespace wafermill::format {
namespace {

std::string quoted(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string number(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

}  // namespace

void export_verdicts(const std::string& output, const std::string& csv_path, bool flagged_only,
                     bool force) {
  // Before anything is read: the CSV may not replace the run's output (or any existing file
  // without --force).
  AtomicOutput atomic(csv_path, force, {output});
  if (!h5::File::is_hdf5(output))
    throw InputError(output + ": not an HDF5 file (expected a run's output)");
  const h5::File f = h5::File::open_read(output);
  if (!f.has_group("wafers") || !f.open_group("wafers").has_dataset("score"))
    throw InputError(output + ": /wafers/score: missing (not a wafermill output?)");
  const h5::Group w = f.open_group("wafers");
  const h5::Group fg = f.open_group("features");
  const auto vdims = fg.open_dataset("values").dims();
  if (vdims.size() != 3) throw InputError(output + ": /features/values: expected 3 dimensions");
  const std::uint64_t W = vdims[0], S = vdims[1], F = vdims[2];
  const auto sensors = fg.open_dataset("sensor_names").read_strings(0, S);
  const auto features = fg.open_dataset("names").read_strings(0, F);
  // Recipe steps: a contribution at S*F + (k*S + s)*F + f is feature f of sensor s over step k.
  std::uint64_t K = 0;
  if (fg.has_dataset("by_step")) {
    const auto bd = fg.open_dataset("by_step").dims();
    if (bd.size() != 4 || bd[0] != W || bd[2] != S || bd[3] != F)
      throw InputError(output + ": /features/by_step: expected [" + std::to_string(W) +
                       ", steps, " + std::to_string(S) + ", " + std::to_string(F) + "]");
    K = bd[1];
  }
  auto numbers = [&](const char* name) {
    const auto d = w.open_dataset(name);
    if (d.dims().empty() || d.dims()[0] != W)
      throw InputError(output + ": /wafers/" + name + ": expected " + std::to_string(W) + " rows");
    return d.read_all<double>();
  };
  const auto score = numbers("score");
  const auto flag = numbers("flag");
  const bool labels = w.has_dataset("label");
  const auto label = labels ? numbers("label") : std::vector<double>();
  const bool model = w.has_dataset("t2");
  std::vector<double> t2, spe, reason, share;
  std::vector<std::int32_t> column;
  std::uint64_t N = 0;
  if (model) {
    t2 = numbers("t2");
    spe = numbers("spe");
    reason = numbers("reason");
    const auto cd = w.open_dataset("contrib_column");
    if (cd.dims().size() != 2 || cd.dims()[0] != W)
      throw InputError(output + ": /wafers/contrib_column: expected [" + std::to_string(W) +
                       ", N]");
    N = cd.dims()[1];
    column = cd.read_all<std::int32_t>();
    share = w.open_dataset("contrib_share").read_all<double>();
    if (share.size() != column.size())
      throw InputError(output +
                       ": /wafers/contrib_share: expected the shape of /wafers/contrib_column");
  }
  std::ofstream out(atomic.temp_path());
  if (!out) throw UsageError(csv_path + ": cannot write the CSV file");
  out << "wafer" << (labels ? ",label" : "") << ",score,flag";
  if (model) {
    out << ",t2,spe,reason";
    for (std::uint64_t k = 1; k <= N; ++k)
      out << ",contribution_" << k << ",step_" << k << ",share_" << k;
  }
  out << "\n";
  static const char* kReason[] = {"",
                                  "T2",
                                  "SPE",
                                  "T2+SPE",
                                  "univariate",
                                  "T2+univariate",
                                  "SPE+univariate",
                                  "T2+SPE+univariate"};
  for (std::uint64_t i = 0; i < W; ++i) {
    if (flagged_only && flag[i] == 0) continue;
    out << i;
    if (labels) out << "," << number(label[i]);
    out << "," << number(score[i]) << "," << number(flag[i]);
    if (model) {
      const int r = static_cast<int>(reason[i]);
      out << "," << number(t2[i]) << "," << number(spe[i]) << ","
          << (r >= 0 && r <= 7 ? kReason[r] : "?");
      for (std::uint64_t k = 0; k < N; ++k) {
        const std::int32_t c = column[i * N + k];
        if (c < 0) {
          out << ",,,";
          continue;
        }
        const auto at = static_cast<std::uint64_t>(c);
        if (at >= S * F * (K + 1))
          throw InputError(output + ": /wafers/contrib_column[" + std::to_string(i) + ", " +
                           std::to_string(k) + "] = " + std::to_string(c) +
                           " is not a column of /features/values" +
                           (K > 0 ? " or /features/by_step" : ""));
        const std::uint64_t step = at / (S * F), sf = at % (S * F);  // step 0: the whole wafer
        out << "," << quoted(sensors[sf / F] + "/" + features[sf % F]) << ","
            << (step == 0 ? std::string("all") : std::to_string(step - 1)) << ","
            << number(share[i * N + k]);
      }
    }
    out << "\n";
  }
  out.close();
  if (!out) throw UsageError(csv_path + ": write failed");
  atomic.commit();
}

}  // namespace wafermill::format
