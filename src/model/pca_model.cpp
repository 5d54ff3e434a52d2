#include "wafermill/model/pca_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "wafermill/error.hpp"
#include "wafermill/format/h5.hpp"
#include "wafermill/format/trace_index.hpp"

namespace wafermill::model {
namespace h5 = format::h5;

WaferVerdict score_wafer(const PcaModel& m, std::span<const double> x,
                         std::vector<double>* contributions) {
  const std::size_t J = m.n_columns();
  const std::size_t A = m.n_components;
  std::vector<double> z(J), t(A, 0.0);
  for (std::size_t j = 0; j < J; ++j)
    z[j] = std::isfinite(x[j]) ? (x[j] - m.centre[j]) / m.scale[j] : 0.0;
  for (std::size_t j = 0; j < J; ++j)
    for (std::size_t a = 0; a < A; ++a) t[a] += z[j] * m.loadings[j * A + a];
  WaferVerdict v;
  for (std::size_t a = 0; a < A; ++a) v.t2 += t[a] * t[a] / m.eigenvalues[a];
  std::vector<double> e(J);
  for (std::size_t j = 0; j < J; ++j) {
    double fit = 0.0;
    for (std::size_t a = 0; a < A; ++a) fit += m.loadings[j * A + a] * t[a];
    e[j] = z[j] - fit;
    v.spe += e[j] * e[j];
  }
  for (std::size_t j = 0; j < J; ++j) v.zmax = std::max(v.zmax, std::fabs(z[j]));
  const double rt = v.t2 / m.t2_limit, rq = v.spe / m.spe_limit;
  const double ru = m.univariate_limit > 0.0 ? v.zmax / m.univariate_limit : 0.0;
  v.score = std::max({rt, rq, ru});
  v.reason = static_cast<std::uint8_t>((rt > 1.0 ? kReasonT2 : 0) | (rq > 1.0 ? kReasonSpe : 0) |
                                       (ru > 1.0 ? kReasonUnivariate : 0));
  if (contributions) {
    contributions->assign(J, 0.0);
    if (ru > std::max(rt, rq)) {  // the univariate limit leads: each column's z², largest first
      for (std::size_t j = 0; j < J; ++j) (*contributions)[j] = z[j] * z[j];
    } else if (rq >= rt) {
      for (std::size_t j = 0; j < J; ++j) (*contributions)[j] = e[j] * e[j];
    } else {
      for (std::size_t j = 0; j < J; ++j) {
        double w = 0.0;
        for (std::size_t a = 0; a < A; ++a) w += m.loadings[j * A + a] * t[a] / m.eigenvalues[a];
        (*contributions)[j] = z[j] * w;
      }
    }
  }
  return v;
}

ExplainedVerdict explain_wafer(const PcaModel& m, std::span<const double> x, std::size_t top) {
  ExplainedVerdict out;
  std::vector<double> contrib;
  out.verdict = score_wafer(m, x, &contrib);
  if (out.verdict.reason == kReasonNone) return out;
  const WaferVerdict& v = out.verdict;
  const std::size_t J = m.n_columns();
  const double ru = m.univariate_limit > 0.0 ? v.zmax / m.univariate_limit : 0.0;
  double total = v.t2 / m.t2_limit > v.spe / m.spe_limit ? v.t2 : v.spe;
  if (ru > std::max(v.t2 / m.t2_limit, v.spe / m.spe_limit)) {
    total = 0.0;
    for (double c : contrib) total += c;
  }
  std::vector<std::size_t> order(J);
  for (std::size_t j = 0; j < J; ++j) order[j] = j;
  const std::size_t n = std::min(top, J);
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    [&contrib](std::size_t a, std::size_t b) {
                      const double ca = std::fabs(contrib[a]), cb = std::fabs(contrib[b]);
                      return ca != cb ? ca > cb : a < b;
                    });
  for (std::size_t k = 0; k < n; ++k) {
    out.top_columns.push_back(order[k]);
    out.top_shares.push_back(total > 0 ? contrib[order[k]] / total : 0.0);
  }
  return out;
}

std::size_t reference_bin(const PcaModel& m, std::size_t j, double x) {
  if (!std::isfinite(x)) return kReferenceBins;
  const double lo = m.hist_lo[j], hi = m.hist_hi[j];
  if (!(hi > lo) || x <= lo) return 0;
  if (x >= hi) return kReferenceBins - 1;
  const auto b =
      static_cast<std::size_t>((x - lo) / (hi - lo) * static_cast<double>(kReferenceBins));
  return std::min(b, kReferenceBins - 1);
}

double conformal_quantile(std::vector<double> values, double a, bool* too_few) {
  if (values.empty()) throw std::invalid_argument("conformal_quantile: no values");
  const std::size_t n = values.size();
  const double rank = std::ceil((1.0 - a) * static_cast<double>(n + 1) - 1e-9);
  std::size_t k = rank < 1.0 ? 1 : static_cast<std::size_t>(rank);
  if (too_few) *too_few = k > n;
  k = std::min(k, n);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k - 1),
                   values.end());
  return values[k - 1];
}

namespace {

// v2 adds the mergeable sums and the reference histograms; a v1 model still scores.
constexpr const char* kFormat = "wafermill pca model v2";
constexpr const char* kFormatV1 = "wafermill pca model v1";
// v2 with per-group scaling (written only by `fit --group-by`, so that older readers refuse it).
constexpr const char* kFormatV3 = "wafermill pca model v3";
// v2 (or v3: groups when /group_names is there) with by-step columns (/column_step), written only
// when some column is over one recipe step, so that readers that would bind it to the whole
// wafer refuse it.
constexpr const char* kFormatV4 = "wafermill pca model v4";
// v2 with fold models (/fold_models/F/, docs/MONITORING.md "fit"); groups when /group_names is
// there, by-step columns when /column_step is: older readers refuse it rather than score every
// wafer with the full model.
constexpr const char* kFormatV5 = "wafermill pca model v5";

template <class T>
void put(h5::Group& g, const std::string& name, const std::vector<T>& v,
         std::vector<std::uint64_t> dims = {}) {
  if (dims.empty()) dims = {v.size()};
  auto d = g.create_dataset(name, h5::elem_of<T>(), dims);
  if (!v.empty()) d.write_all(std::span<const T>(v));
}

// `where` is the group's path ("" for the root, "/fold_models/2" for a fold model).
std::vector<double> get(const h5::Group& f, const std::string& path, const std::string& name,
                        std::size_t expected, const std::string& where = "") {
  if (!f.has_dataset(name))
    throw InputError(path + ": " + where + "/" + name + ": missing (not a wafermill model?)");
  const auto d = f.open_dataset(name);
  std::uint64_t n = 1;
  for (auto x : d.dims()) n *= x;
  if (n != expected)
    throw InputError(path + ": " + where + "/" + name + ": " + std::to_string(n) +
                     " values, expected " + std::to_string(expected));
  return d.read_all<double>();
}

// Fold model f of `m` from /fold_models/f (what score_wafer and scale_to_group read).
PcaModel read_fold(const h5::Group& folds, const std::string& path, std::size_t f,
                   const PcaModel& m) {
  const std::string name = std::to_string(f), where = "/fold_models/" + name;
  if (!folds.has_group(name)) throw InputError(path + ": " + where + ": missing (format v5)");
  const h5::Group g = folds.open_group(name);
  const std::size_t J = m.n_columns();
  PcaModel fm;
  if (!g.has_dataset("loadings")) throw InputError(path + ": " + where + "/loadings: missing");
  const auto ld = g.open_dataset("loadings").dims();
  if (ld.size() != 2 || ld[0] != J)
    throw InputError(path + ": " + where + "/loadings: expected [" + std::to_string(J) + ", A]");
  fm.n_components = static_cast<std::uint32_t>(ld[1]);
  fm.centre = get(g, path, "centre", J, where);
  fm.scale = get(g, path, "scale", J, where);
  fm.loadings = get(g, path, "loadings", J * fm.n_components, where);
  fm.eigenvalues = get(g, path, "eigenvalues", fm.n_components, where);
  for (std::size_t j = 0; j < J; ++j)
    if (!std::isfinite(fm.centre[j]) || !(fm.scale[j] > 0.0))
      throw InputError(path + ": " + where + "/scale or /centre index " + std::to_string(j) +
                       " is not usable");
  for (std::size_t a = 0; a < fm.n_components; ++a)
    if (!(fm.eigenvalues[a] > 0.0))
      throw InputError(path + ": " + where + "/eigenvalues index " + std::to_string(a) +
                       " is not positive");
  if (m.grouped()) {
    const std::size_t G = m.group_names.size();
    fm.group_centre = get(g, path, "group_centre", G * J, where);
    fm.group_scale = get(g, path, "group_scale", G * J, where);
    fm.fleet_centre = get(g, path, "fleet_centre", J, where);
    fm.fleet_scale = get(g, path, "fleet_scale", J, where);
    for (std::size_t q = 0; q < fm.group_scale.size(); ++q)
      if (!std::isfinite(fm.group_centre[q]) || !(fm.group_scale[q] > 0.0))
        throw InputError(path + ": " + where + "/group_scale or /group_centre index " +
                         std::to_string(q) + " is not usable");
    for (std::size_t j = 0; j < J; ++j)
      if (!std::isfinite(fm.fleet_centre[j]) || !(fm.fleet_scale[j] > 0.0))
        throw InputError(path + ": " + where + "/fleet_scale or /fleet_centre index " +
                         std::to_string(j) + " is not usable");
  }
  return fm;
}

double scalar(const h5::Group& f, const std::string& path, const std::string& name) {
  return get(f, path, name, 1)[0];
}

}  // namespace

void share_with_folds(PcaModel& m) {
  for (PcaModel& fm : m.fold_models) {
    fm.t2_limit = m.t2_limit;
    fm.spe_limit = m.spe_limit;
    fm.univariate_limit = m.univariate_limit;
    fm.group_by = m.group_by;
    fm.group_names = m.group_names;
  }
}

bool PcaModel::has_step_columns() const {
  return std::any_of(column_step.begin(), column_step.end(), [](std::int32_t k) { return k >= 0; });
}

std::size_t PcaModel::group_of(const std::string& key) const {
  const auto it = std::lower_bound(group_names.begin(), group_names.end(), key);
  return it != group_names.end() && *it == key ? static_cast<std::size_t>(it - group_names.begin())
                                               : group_names.size();
}

void PcaModel::scale_to_group(std::size_t g, std::span<double> x) const {
  if (!grouped()) return;
  const std::size_t J = n_columns();
  const bool known = g < group_names.size();
  const double* c = known ? &group_centre[g * J] : fleet_centre.data();
  const double* s = known ? &group_scale[g * J] : fleet_scale.data();
  for (std::size_t j = 0; j < J; ++j)
    if (std::isfinite(x[j])) x[j] = (x[j] - c[j]) / s[j];
}

std::vector<std::string> read_group_keys(const std::string& path, const std::string& name,
                                         std::uint64_t n_wafers, std::uint64_t first,
                                         std::uint64_t n) {
  std::vector<std::string> keys;
  try {
    const h5::File f = h5::File::open_read(path);
    if (!f.has_group("wafers") || !f.open_group("wafers").has_dataset(name))
      throw InputError(path + ": /wafers/" + name +
                       ": missing (the model's or --group-by's group dataset)");
    const h5::Dataset d = f.open_group("wafers").open_dataset(name);
    if (d.dims() != std::vector<std::uint64_t>{n_wafers})
      throw InputError(path + ": /wafers/" + name + ": expected " + std::to_string(n_wafers) +
                       " values");
    const auto tc = d.type().type_class;
    if (tc == h5::TypeClass::string) {
      if (n > 0) keys = d.read_strings(first, n);
    } else if (tc == h5::TypeClass::integer || tc == h5::TypeClass::floating) {
      std::vector<double> v(n);
      if (n > 0) d.read(std::span<double>(v), {first}, {n});
      char buf[32];
      for (double x : v) {
        std::snprintf(buf, sizeof buf, "%.17g", x);
        keys.emplace_back(buf);
      }
    } else {
      throw InputError(path + ": /wafers/" + name + ": neither numbers nor strings");
    }
  } catch (const HdfError& e) {
    throw InputError(path + ": /wafers/" + name + ": " + e.what());
  }
  return keys;
}

void write_model(const PcaModel& m, const std::string& path) {
  h5::File f = h5::File::create(path);
  const bool steps = m.has_step_columns();
  f.write_string_attribute("format", m.fold_scored() ? kFormatV5
                                     : steps         ? kFormatV4
                                     : m.grouped()   ? kFormatV3
                                                     : kFormat);
  f.write_string_attribute("method", m.method);
  f.write_string_attribute("warning", m.warning);
  if (m.time_windows > 0) f.write_int_attribute("time_windows", m.time_windows);
  f.write_string_dataset("column_sensor", m.column_sensor);
  f.write_string_dataset("column_feature", m.column_feature);
  if (steps) put(f, "column_step", m.column_step);
  put(f, "centre", m.centre);
  put(f, "scale", m.scale);
  put(f, "loadings", m.loadings, {m.n_columns(), m.n_components});
  put(f, "eigenvalues", m.eigenvalues);
  put(f, "explained", m.explained);
  put(f, "t2_limit", std::vector<double>{m.t2_limit});
  put(f, "spe_limit", std::vector<double>{m.spe_limit});
  put(f, "univariate_limit", std::vector<double>{m.univariate_limit});
  put(f, "false_alarm_rate", std::vector<double>{m.false_alarm_rate});
  put(f, "heldout_false_alarm_rate", std::vector<double>{m.heldout_false_alarm_rate});
  put(f, "insample_false_alarm_rate", std::vector<double>{m.insample_false_alarm_rate});
  put(f, "variance_target", std::vector<double>{m.variance_target});
  put(f, "n_reference", std::vector<std::uint64_t>{m.n_reference});
  put(f, "folds", std::vector<std::uint64_t>{m.folds});
  put(f, "origin", m.origin);
  put(f, "sum_n", std::vector<std::uint64_t>{m.sum_n});
  put(f, "sum_d", m.sum_d);
  put(f, "sum_dd", m.sum_dd);
  put(f, "hist_lo", m.hist_lo);
  put(f, "hist_hi", m.hist_hi);
  put(f, "hist_counts", m.hist_counts, {m.n_columns(), kReferenceBins});
  if (m.has_lot_histograms()) {
    f.write_string_attribute("lot_by", m.lot_by);
    f.write_string_dataset("lot_names", m.lot_names);
    put(f, "lot_wafers", m.lot_wafers);
    put(f, "lot_counts", m.lot_counts, {m.lot_names.size(), m.n_columns(), kReferenceBins});
  }
  if (m.grouped()) {
    f.write_string_attribute("group_by", m.group_by);
    f.write_string_dataset("group_names", m.group_names);
    put(f, "group_count", m.group_count);
    put(f, "group_centre", m.group_centre, {m.group_names.size(), m.n_columns()});
    put(f, "group_scale", m.group_scale, {m.group_names.size(), m.n_columns()});
    put(f, "fleet_centre", m.fleet_centre);
    put(f, "fleet_scale", m.fleet_scale);
  }
  if (m.fold_scored()) {
    h5::Group all = f.create_group("fold_models");
    for (std::size_t k = 0; k < m.fold_models.size(); ++k) {
      const PcaModel& fm = m.fold_models[k];
      h5::Group g = all.create_group(std::to_string(k));
      put(g, "centre", fm.centre);
      put(g, "scale", fm.scale);
      put(g, "loadings", fm.loadings, {fm.n_columns(), fm.n_components});
      put(g, "eigenvalues", fm.eigenvalues);
      if (m.grouped()) {
        put(g, "group_centre", fm.group_centre, {m.group_names.size(), m.n_columns()});
        put(g, "group_scale", fm.group_scale, {m.group_names.size(), m.n_columns()});
        put(g, "fleet_centre", fm.fleet_centre);
        put(g, "fleet_scale", fm.fleet_scale);
      }
    }
  }
  f.close();
}

PcaModel read_model(const std::string& path) {
  if (!h5::File::is_hdf5(path))
    throw InputError(path + ": not an HDF5 file (expected a model from `wafermill fit`)");
  PcaModel m;
  try {
    const h5::File f = h5::File::open_read(path);
    std::string format;
    try {
      format = f.read_string_attribute("format");
    } catch (const HdfError&) {
    }
    const bool v5 = format == kFormatV5;
    const bool v4 = format == kFormatV4 || (v5 && f.has_dataset("column_step"));
    const bool v3 = format == kFormatV3 || ((v4 || v5) && f.has_dataset("group_names"));
    if (v3 || v4 || v5) format = kFormat;
    if (format != kFormat && format != kFormatV1)
      throw InputError(path + ": attribute format is \"" + format + "\", expected \"" + kFormat +
                       "\"");
    m.method = f.read_string_attribute("method");
    m.warning = f.read_string_attribute("warning");
    if (f.has_attribute("time_windows")) {
      const std::int64_t n = f.read_int_attribute("time_windows");
      if (n < 0 || n > static_cast<std::int64_t>(format::kMaxSteps))
        throw InputError(path + ": attribute time_windows = " + std::to_string(n) +
                         " outside [0, " + std::to_string(format::kMaxSteps) + "]");
      m.time_windows = static_cast<std::uint32_t>(n);
    }
    for (const char* name :
         {"column_sensor", "column_feature", "centre", "loadings", "eigenvalues"})
      if (!f.has_dataset(name)) throw InputError(path + ": /" + std::string(name) + ": missing");
    const auto cs = f.open_dataset("column_sensor");
    const std::uint64_t J = cs.dims().at(0);
    m.column_sensor = cs.read_strings(0, J);
    m.column_feature = f.open_dataset("column_feature").read_strings(0, J);
    if (v4) {
      if (!f.has_dataset("column_step"))
        throw InputError(path + ": /column_step: missing (format v4)");
      const auto st = f.open_dataset("column_step");
      if (st.dims() != std::vector<std::uint64_t>{J})
        throw InputError(path + ": /column_step: expected " + std::to_string(J) + " values");
      m.column_step = st.read_all<std::int32_t>();
      for (std::size_t j = 0; j < J; ++j)
        if (m.column_step[j] < -1)
          throw InputError(path + ": /column_step index " + std::to_string(j) + " is " +
                           std::to_string(m.column_step[j]) + " (expected -1 or a step >= 0)");
    }
    const auto ld = f.open_dataset("loadings").dims();
    if (ld.size() != 2 || ld[0] != J)
      throw InputError(path + ": /loadings: expected [" + std::to_string(J) + ", A]");
    m.n_components = static_cast<std::uint32_t>(ld[1]);
    m.centre = get(f, path, "centre", J);
    m.scale = get(f, path, "scale", J);
    m.loadings = get(f, path, "loadings", J * m.n_components);
    m.eigenvalues = get(f, path, "eigenvalues", m.n_components);
    m.explained = get(f, path, "explained", m.n_components);
    m.t2_limit = scalar(f, path, "t2_limit");
    m.spe_limit = scalar(f, path, "spe_limit");
    if (f.has_dataset("univariate_limit")) m.univariate_limit = scalar(f, path, "univariate_limit");
    m.false_alarm_rate = scalar(f, path, "false_alarm_rate");
    m.heldout_false_alarm_rate = scalar(f, path, "heldout_false_alarm_rate");
    m.insample_false_alarm_rate = scalar(f, path, "insample_false_alarm_rate");
    m.variance_target = scalar(f, path, "variance_target");
    m.n_reference = static_cast<std::uint64_t>(scalar(f, path, "n_reference"));
    m.folds = static_cast<std::uint32_t>(scalar(f, path, "folds"));
    if (format == kFormat) {
      m.origin = get(f, path, "origin", J);
      m.sum_n = static_cast<std::uint64_t>(scalar(f, path, "sum_n"));
      // A Gram-path model (docs/MONITORING.md "Matrix") keeps no sums: sum_n 0, both empty.
      const bool sums = m.sum_n > 0;
      m.sum_d = get(f, path, "sum_d", sums ? J : 0);
      m.sum_dd = get(f, path, "sum_dd", sums ? J * (J + 1) / 2 : 0);
      m.hist_lo = get(f, path, "hist_lo", J);
      m.hist_hi = get(f, path, "hist_hi", J);
      if (!f.has_dataset("hist_counts")) throw InputError(path + ": /hist_counts: missing");
      const auto hc = f.open_dataset("hist_counts");
      if (hc.dims() != std::vector<std::uint64_t>{J, kReferenceBins})
        throw InputError(path + ": /hist_counts: expected [" + std::to_string(J) + ", " +
                         std::to_string(kReferenceBins) + "]");
      m.hist_counts = hc.read_all<std::uint64_t>();
      if (f.has_dataset("lot_counts")) {  // optional: histograms per reference lot
        if (!f.has_dataset("lot_names") || !f.has_dataset("lot_wafers") ||
            !f.has_attribute("lot_by"))
          throw InputError(path + ": /lot_counts without /lot_names, /lot_wafers or lot_by");
        m.lot_by = f.read_string_attribute("lot_by");
        const auto ln = f.open_dataset("lot_names");
        const std::uint64_t L = ln.dims().at(0);
        m.lot_names = ln.read_strings(0, L);
        const auto lw = f.open_dataset("lot_wafers");
        const auto lc = f.open_dataset("lot_counts");
        if (lw.dims() != std::vector<std::uint64_t>{L})
          throw InputError(path + ": /lot_wafers: expected [" + std::to_string(L) + "]");
        if (lc.dims() != std::vector<std::uint64_t>{L, J, kReferenceBins})
          throw InputError(path + ": /lot_counts: expected [" + std::to_string(L) + ", " +
                           std::to_string(J) + ", " + std::to_string(kReferenceBins) + "]");
        m.lot_wafers = lw.read_all<std::uint64_t>();
        m.lot_counts = lc.read_all<std::uint64_t>();
      }
    }
    if (v3) {
      m.group_by = f.read_string_attribute("group_by");
      if (!f.has_dataset("group_names"))
        throw InputError(path + ": /group_names: missing (group_by is set)");
      const auto gn = f.open_dataset("group_names");
      const std::uint64_t G = gn.dims().at(0);
      m.group_names = gn.read_strings(0, G);
      const auto gc = get(f, path, "group_count", G);
      for (double c : gc) m.group_count.push_back(static_cast<std::uint64_t>(c));
      m.group_centre = get(f, path, "group_centre", G * J);
      m.group_scale = get(f, path, "group_scale", G * J);
      m.fleet_centre = get(f, path, "fleet_centre", J);
      m.fleet_scale = get(f, path, "fleet_scale", J);
      for (std::size_t q = 0; q < m.group_scale.size(); ++q)
        if (!std::isfinite(m.group_centre[q]) || !(m.group_scale[q] > 0.0))
          throw InputError(path + ": /group_scale or /group_centre index " + std::to_string(q) +
                           " is not usable");
      for (std::size_t j = 0; j < J; ++j)
        if (!std::isfinite(m.fleet_centre[j]) || !(m.fleet_scale[j] > 0.0))
          throw InputError(path + ": /fleet_scale or /fleet_centre index " + std::to_string(j) +
                           " is not usable");
      if (!std::is_sorted(m.group_names.begin(), m.group_names.end()))
        throw InputError(path + ": /group_names: not sorted");
    }
    if (v5) {
      if (!f.has_group("fold_models"))
        throw InputError(path + ": /fold_models: missing (format v5)");
      if (m.folds < 2)
        throw InputError(path + ": /folds is " + std::to_string(m.folds) +
                         ": fold models need at least 2");
      const h5::Group folds = f.open_group("fold_models");
      for (std::size_t k = 0; k < m.folds; ++k)
        m.fold_models.push_back(read_fold(folds, path, k, m));
    }
  } catch (const HdfError& e) {
    throw InputError(path + ": cannot read the model: " + e.what());
  }
  for (std::size_t j = 0; j < m.n_columns(); ++j)
    if (!std::isfinite(m.centre[j]) || !(m.scale[j] > 0.0))
      throw InputError(path + ": /scale or /centre index " + std::to_string(j) + " is not usable");
  for (std::size_t a = 0; a < m.n_components; ++a)
    if (!(m.eigenvalues[a] > 0.0))
      throw InputError(path + ": /eigenvalues index " + std::to_string(a) + " is not positive");
  if (!(m.t2_limit > 0.0) || !(m.spe_limit > 0.0))
    throw InputError(path + ": /t2_limit and /spe_limit must be positive");
  if (!(m.univariate_limit >= 0.0) || !std::isfinite(m.univariate_limit))
    throw InputError(path + ": /univariate_limit must be 0 (none) or positive");
  share_with_folds(m);
  return m;
}

}  // namespace wafermill::model
