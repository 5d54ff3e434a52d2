// The statistics of a study: median with min–max over repetitions, and the Amdahl fit.
#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

#include "wafermill/report/study.hpp"

namespace wafermill::report {

Spread summarise(std::vector<double> values) {
  std::erase_if(values, [](double v) { return !std::isfinite(v); });
  Spread s;
  s.n = values.size();
  if (values.empty()) {
    s.median = s.min = s.max = NAN;
    return s;
  }
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  s.median = values.size() % 2 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
  s.min = values.front();
  s.max = values.back();
  return s;
}

std::optional<AmdahlFit> fit_amdahl(const std::vector<int>& ranks, const std::vector<double>& times_s) {
  if (ranks.size() != times_s.size())
    throw std::invalid_argument("fit_amdahl: " + std::to_string(ranks.size()) + " rank counts but " +
                                std::to_string(times_s.size()) + " times");
  // T(P) = T1 f + T1 (1 - f) / P is linear in x = 1/P: T = a + b x with a = T1 f, b = T1 (1 - f).
  std::vector<double> x, y;
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    if (ranks[i] < 1 || !std::isfinite(times_s[i])) continue;
    x.push_back(1.0 / ranks[i]);
    y.push_back(times_s[i]);
  }
  if (std::set<double>(x.begin(), x.end()).size() < 2) return std::nullopt;
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  double sxx = 0, sxy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
  }
  const double b = sxy / sxx;
  const double a = my - b * mx;
  const double t1 = a + b;
  if (!(t1 > 0)) return std::nullopt;
  double ssr = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double r = y[i] - (a + b * x[i]);
    ssr += r * r;
  }
  AmdahlFit fit;
  fit.n_runs = x.size();
  fit.t1_s = t1;
  fit.serial_fraction = a / t1;
  fit.residual_rms_s = std::sqrt(ssr / n);
  if (x.size() > 2) {
    // Ordinary least squares: var(b) = σ²/Sxx, var(a) = σ² (1/n + x̄²/Sxx), cov(a,b) = −σ² x̄/Sxx,
    // σ² = SSR/(n − 2). f = a/(a + b): ∂f/∂a = b/(a+b)², ∂f/∂b = −a/(a+b)² (delta method).
    const double s2 = ssr / (n - 2);
    const double var_a = s2 * (1.0 / n + mx * mx / sxx);
    const double var_b = s2 / sxx;
    const double cov_ab = -s2 * mx / sxx;
    const double ga = b / (t1 * t1), gb = -a / (t1 * t1);
    const double var_f = ga * ga * var_a + gb * gb * var_b + 2 * ga * gb * cov_ab;
    fit.serial_fraction_error = std::sqrt(std::max(0.0, var_f));
  } else {
    fit.serial_fraction_error = NAN;
  }
  return fit;
}

std::optional<double> MetricCheck::change() const {
  if (!reference || !value || *reference == 0.0) return std::nullopt;
  return (*value - *reference) / *reference;
}

std::vector<std::string> StudyComparison::regressed() const {
  std::vector<std::string> out;
  for (const auto& c : checks)
    if (c.status == "regressed") out.push_back(c.metric);
  return out;
}

}  // namespace wafermill::report
