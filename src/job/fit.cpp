#include "wafermill/job/fit.hpp"

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <cstdio>
#include <memory>
#include <optional>
#include <sstream>

#include "wafermill/error.hpp"
#include "wafermill/format/atomic_output.hpp"
#include "wafermill/format/h5.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/job/pipeline.hpp"

namespace wafermill::job {
namespace h5 = format::h5;
namespace {

// Rank 0's (or any rank's) error becomes every rank's CollectiveInputError.
void agree(const std::string& error, MPI_Comm comm) {
  std::string text = error;
  int len = static_cast<int>(text.size());
  int most = len;
  MPI_Allreduce(&len, &most, 1, MPI_INT, MPI_MAX, comm);
  if (most == 0) return;
  // The first rank with an error tells the others.
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int who = len > 0 ? rank : size;
  MPI_Allreduce(MPI_IN_PLACE, &who, 1, MPI_INT, MPI_MIN, comm);
  MPI_Bcast(&len, 1, MPI_INT, who, comm);
  text.resize(static_cast<std::size_t>(len));
  MPI_Bcast(text.data(), len, MPI_CHAR, who, comm);
  throw CollectiveInputError(text);
}

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t") - a + 1);
}

// The reference rows of this rank: wafers [W r / P, W (r+1) / P) that pass the selection.
model::ReferenceRows read_reference(const std::string& path, const FitConfig& config, MPI_Comm comm,
                                    std::vector<std::string>& keys) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  const h5::File f = h5::File::open_read(path);
  const h5::Group fg = f.open_group("features");
  const h5::Dataset values = fg.open_dataset("values");
  const auto dims = values.dims();
  if (dims.size() != 3)
    throw InputError(path + ": /features/values: expected [wafers, sensors, features]");
  const std::uint64_t W = dims[0], S = dims[1], F = dims[2];
  const auto fnames = fg.open_dataset("names").read_strings(0, F);
  const auto snames = fg.open_dataset("sensor_names").read_strings(0, S);
  std::vector<std::string> wanted;
  if (config.features.empty()) {
    for (const auto& n : fnames)
      if (n != "count" && n != "invalid_count") wanted.push_back(n);
  } else {
    std::stringstream ss(config.features);
    for (std::string item; std::getline(ss, item, ',');) {
      item = trim(item);
      if (std::find(fnames.begin(), fnames.end(), item) == fnames.end())
        throw UsageError(path + ": /features/names has no feature \"" + item + "\" (--features)");
      wanted.push_back(item);
    }
  }
  // By-step columns (docs/MONITORING.md "Steps"): /features/by_step [W, K, S, F]. auto: in
  // place of the whole-wafer ones from two steps on; both: beside them; none: not read.
  if (config.by_step != "auto" && config.by_step != "both" && config.by_step != "none")
    throw UsageError("--by-step must be auto, both or none (not \"" + config.by_step + "\")");
  std::uint64_t K = 0;
  std::optional<h5::Dataset> by_step;
  if (config.by_step != "none" && fg.has_dataset("by_step")) {
    by_step = fg.open_dataset("by_step");
    const auto bd = by_step->dims();
    if (bd.size() != 4 || bd[0] != W || bd[2] != S || bd[3] != F)
      throw InputError(path + ": /features/by_step: expected [" + std::to_string(W) + ", steps, " +
                       std::to_string(S) + ", " + std::to_string(F) + "]");
    K = bd[1];
    if (config.by_step == "auto" && K < 2) K = 0;  // one step: the whole wafer
  }
  const bool whole = K == 0 || config.by_step == "both";
  // Positions in a row of S*F whole-wafer values then K*S*F by-step values: the whole-wafer
  // columns first (s, f), then step by step (k, s, f), as /wafers/contrib_column numbers them.
  std::vector<std::size_t> cols;
  model::ReferenceRows ref;
  for (std::uint64_t k = whole ? 0 : 1; k <= K; ++k)
    for (std::uint64_t s = 0; s < S; ++s)
      for (std::uint64_t q = 0; q < F; ++q)
        if (std::find(wanted.begin(), wanted.end(), fnames[q]) != wanted.end()) {
          cols.push_back((k * S + s) * F + q);
          ref.column_sensor.push_back(snames[s]);
          ref.column_feature.push_back(fnames[q]);
          if (K > 0) ref.column_step.push_back(static_cast<std::int32_t>(k) - 1);
        }
  const std::uint64_t first = W * rank / size, end = W * (rank + 1) / size, m = end - first;
  const auto clauses = parse_select(config.select);
  std::vector<char> keep(m, 1);
  for (const auto& c : clauses) {
    std::vector<double> v(m);
    if (c.field == "index") {
      for (std::uint64_t i = 0; i < m; ++i) v[i] = static_cast<double>(first + i);
    } else {
      const h5::Group wg = f.has_group("wafers") ? f.open_group("wafers") : h5::Group();
      if (!f.has_group("wafers") || !wg.has_dataset(c.field))
        throw UsageError(path + ": --select: no dataset /wafers/" + c.field);
      const h5::Dataset d = wg.open_dataset(c.field);
      if (d.dims() != std::vector<std::uint64_t>{W} || d.type().type_class == h5::TypeClass::string)
        throw InputError(path + ": /wafers/" + c.field + ": expected " + std::to_string(W) +
                         " numbers");
      if (m > 0) d.read(std::span<double>(v), {first}, {m});
    }
    for (std::uint64_t i = 0; i < m; ++i) keep[i] = keep[i] && passes(c, v[i]);
  }
  const std::uint64_t row = (K + 1) * S * F;
  if (m * row * sizeof(double) > config.options.memory_budget_bytes)
    throw InputError(path + ": this rank's " + std::to_string(m) + " wafers need " +
                     std::to_string((m * row * 8) >> 20) +
                     " MiB, more than --memory-budget: run on more ranks");
  std::vector<std::string> group, lot;
  if (!config.group_by.empty()) group = model::read_group_keys(path, config.group_by, W, first, m);
  // Lots: the named dataset (missing: an error naming it), lot_id where there is one (auto).
  const bool has_lot_id = f.has_group("wafers") && f.open_group("wafers").has_dataset("lot_id");
  ref.lot_by = config.lot_by == "none"                   ? std::string()
               : config.lot_by == "auto" && has_lot_id ? std::string("lot_id")
               : config.lot_by == "auto"               ? std::string()
                                                       : config.lot_by;
  if (!ref.lot_by.empty()) lot = model::read_group_keys(path, ref.lot_by, W, first, m);
  // In chunks of about 16 MiB: the whole-wafer values, then the by-step ones, of each wafer.
  const std::uint64_t chunk = std::max<std::uint64_t>(1, (16ULL << 20) / (row * sizeof(double)));
  std::vector<double> all, part;
  ref.values.reserve(ref.values.size() + m * cols.size());
  for (std::uint64_t c0 = 0; c0 < m; c0 += chunk) {
    const std::uint64_t n = std::min(chunk, m - c0);
    all.resize(n * row);
    if (K == 0) {
      values.read(std::span<double>(all), {first + c0, 0, 0}, {n, S, F});
    } else {
      part.resize(n * S * F);
      values.read(std::span<double>(part), {first + c0, 0, 0}, {n, S, F});
      for (std::uint64_t i = 0; i < n; ++i)
        std::copy_n(part.begin() + static_cast<std::ptrdiff_t>(i * S * F), S * F,
                    all.begin() + static_cast<std::ptrdiff_t>(i * row));
      part.resize(n * K * S * F);
      by_step->read(std::span<double>(part), {first + c0, 0, 0, 0}, {n, K, S, F});
      for (std::uint64_t i = 0; i < n; ++i)
        std::copy_n(part.begin() + static_cast<std::ptrdiff_t>(i * K * S * F), K * S * F,
                    all.begin() + static_cast<std::ptrdiff_t>(i * row + S * F));
    }
    for (std::uint64_t i = 0; i < n; ++i) {
      if (!keep[c0 + i]) continue;
      for (auto c : cols) ref.values.push_back(all[i * row + c]);
      if (!group.empty()) keys.push_back(group[c0 + i]);
      if (!lot.empty()) ref.lot.push_back(lot[c0 + i]);
    }
  }
  return ref;
}

}  // namespace

bool is_feature_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw InputError(path + ": no such file");
  if (!h5::File::is_hdf5(path)) throw InputError(path + ": not an HDF5 file");
  const h5::File f = h5::File::open_read(path);
  return f.has_group("features") && f.open_group("features").has_dataset("values");
}

std::uint32_t feature_file_time_windows(const std::string& path) {
  const h5::File f = h5::File::open_read(path);
  if (!f.has_attribute("time_windows")) return 0;
  const std::int64_t n = f.read_int_attribute("time_windows");
  if (n < 0 || n > static_cast<std::int64_t>(format::kMaxSteps))
    throw InputError(path + ": attribute time_windows = " + std::to_string(n) + " outside [0, " +
                     std::to_string(format::kMaxSteps) + "]");
  return static_cast<std::uint32_t>(n);
}

std::vector<SelectClause> parse_select(const std::string& text) {
  std::vector<SelectClause> out;
  std::string rest;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "&&") == 0) {
      rest += " and ";
      ++i;
    } else {
      rest += text[i];
    }
  }
  // Split on the word "and".
  std::vector<std::string> parts;
  std::stringstream ss(rest);
  std::string word, cur;
  while (ss >> word) {
    if (word == "and") {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += (cur.empty() ? "" : " ") + word;
    }
  }
  if (!trim(cur).empty() || !parts.empty()) parts.push_back(cur);
  for (const auto& p : parts) {
    SelectClause c;
    const std::string clause = trim(p);
    const auto bad = [&clause] {
      return UsageError("--select: cannot read \"" + clause +
                        "\" (expected FIELD [% M] OP NUMBER, OP one of == != < <= > >=, clauses "
                        "joined by 'and')");
    };
    const auto op_at = clause.find_first_of("=!<>");
    if (clause.empty() || op_at == std::string::npos || op_at == 0) throw bad();
    std::string lhs = trim(clause.substr(0, op_at));
    std::size_t op_len = (op_at + 1 < clause.size() && clause[op_at + 1] == '=') ? 2 : 1;
    c.op = clause.substr(op_at, op_len);
    if (c.op == "=" || c.op == "!") throw bad();
    const std::string rhs = trim(clause.substr(op_at + op_len));
    if (const auto pct = lhs.find('%'); pct != std::string::npos) {
      const std::string mod = trim(lhs.substr(pct + 1));
      lhs = trim(lhs.substr(0, pct));
      char* e = nullptr;
      const unsigned long long mv = std::strtoull(mod.c_str(), &e, 10);
      if (mod.empty() || *e != '\0' || mv == 0) throw bad();
      c.modulus = mv;
    }
    if (lhs.empty() || lhs.find_first_of(" /") != std::string::npos) throw bad();
    c.field = lhs;
    char* e = nullptr;
    c.value = std::strtod(rhs.c_str(), &e);
    if (rhs.empty() || *e != '\0') throw bad();
    out.push_back(c);
  }
  return out;
}

bool passes(const SelectClause& c, double value) {
  double v = value;
  if (c.modulus > 0) {
    if (!(v >= 0) || v != std::floor(v)) return false;
    v = std::fmod(v, static_cast<double>(c.modulus));
  }
  if (c.op == "==") return v == c.value;
  if (c.op == "!=") return v != c.value;
  if (c.op == "<") return v < c.value;
  if (c.op == "<=") return v <= c.value;
  if (c.op == ">") return v > c.value;
  return v >= c.value;  // ">=", the parser admits nothing else
}

model::PcaModel run_fit(const FitConfig& config, MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  std::string error;
  std::unique_ptr<format::AtomicOutput> out;
  int traces = 0;
  if (rank == 0) {
    try {
      if (config.input.empty() || config.output.empty())
        throw UsageError("fit needs --input and --output");
      out = std::make_unique<format::AtomicOutput>(config.output, config.force,
                                                   std::vector<std::string>{config.input});
      traces = is_feature_file(config.input) ? 0 : 1;
    } catch (const InputError& e) {
      error = e.what();
    } catch (const HdfError& e) {
      error = config.input + ": " + e.what();
    }
  }
  agree(error, comm);
  MPI_Bcast(&traces, 1, MPI_INT, 0, comm);
  // A trace file: the features as `run` computes them, into a temporary output beside the model.
  std::string features_path = config.input;
  std::string temp;
  if (traces) {
    temp = config.output + ".features.tmp." + std::to_string(::getpid());
    int len = static_cast<int>(temp.size());
    MPI_Bcast(&len, 1, MPI_INT, 0, comm);
    temp.resize(static_cast<std::size_t>(len));
    MPI_Bcast(temp.data(), len, MPI_CHAR, 0, comm);
    JobConfig run;
    run.input = config.input;
    run.output = temp;
    run.force = true;
    run.baseline = "none";
    run.quiet = true;
    run.store = "none";
    run.memory_budget_bytes = config.options.memory_budget_bytes;
    run.time_windows = config.time_windows;
    run_parallel(run, comm);
    features_path = temp;
  }
  model::ReferenceRows ref;
  std::vector<std::string> keys;
  std::uint32_t windows = 0;
  error.clear();
  try {
    ref = read_reference(features_path, config, comm, keys);
    // What the by-step columns' steps are: the features file records time windows.
    windows = feature_file_time_windows(features_path);
  } catch (const InputError& e) {
    error = e.what();
  } catch (const HdfError& e) {
    error = features_path + ": " + e.what();
  }
  if (!error.empty() && traces) {
    std::string input_name = config.input + " (features of)";
    error = input_name + " " + error;
  }
  try {
    agree(error, comm);
  } catch (const CollectiveInputError&) {  // a bad reference leaves no temporary features behind
    if (rank == 0 && !temp.empty()) std::remove(temp.c_str());
    throw;
  }
  std::uint64_t mine = ref.rows(), before = 0;
  MPI_Exscan(&mine, &before, 1, MPI_UINT64_T, MPI_SUM, comm);
  ref.first_ordinal = rank == 0 ? 0 : before;
  model::PcaModel m;
  try {
    model::FitOptions options = config.options;
    options.group_by = config.group_by;
    ref.group = std::move(keys);
    m = model::fit_pca(ref, options, comm);
    if (m.has_step_columns()) m.time_windows = windows;
  } catch (const InputError& e) {
    if (rank == 0 && !temp.empty()) std::remove(temp.c_str());
    throw CollectiveInputError(config.input + ": " + e.what());
  }
  // Far more columns than reference wafers (by-step columns make it common): the components of
  // the variance rule are mostly the reference's noise, and the whole reference's model (more
  // wafers, more components than the fold models that set the limits) flags far more than the
  // stated rate of unseen good wafers (docs/MONITORING.md "Steps"). The fold models score as the
  // held-out wafers were scored: no warning for them.
  if (m.n_columns() > 2 * m.n_reference && !m.fold_scored()) {
    const std::string w =
        std::to_string(m.n_columns()) + " model columns for " + std::to_string(m.n_reference) +
        " reference wafers, scored by the whole reference's model (--scoring full): with many "
        "more columns than wafers the limits may flag far more than the stated rate of good "
        "wafers the model has not seen (docs/MONITORING.md \"Steps\"); use --scoring auto or "
        "folds, fewer columns (--by-step none, --features) or more reference wafers";
    m.warning = m.warning.empty() ? w : m.warning + "; " + w;
  }
  if (rank == 0) {
    if (!temp.empty()) std::remove(temp.c_str());
    model::write_model(m, out->temp_path());
    out->commit();
  }
  MPI_Barrier(comm);
  return rank == 0 ? m : model::PcaModel{};
}

}  // namespace wafermill::job
