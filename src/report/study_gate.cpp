// The regression gate: named metrics, tolerances (JSON or INI), comparison with a reference.
#include "wafermill/report/study_gate.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "wafermill/error.hpp"

namespace wafermill::report {
namespace {

using nlohmann::json;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// ReFrame's convention: the lower threshold is a fraction ≤ 0, the upper one ≥ 0.
void check_bounds(const std::string& path, const std::string& key, const Tolerance& t) {
  if (t.lower && !(std::isfinite(*t.lower) && *t.lower <= 0))
    throw InputError(path + ": [" + key + "] lower must be a fraction <= 0 (e.g. -0.1)");
  if (t.upper && !(std::isfinite(*t.upper) && *t.upper >= 0))
    throw InputError(path + ": [" + key + "] upper must be a fraction >= 0 (e.g. 0.1)");
}

std::optional<double> parse_bound(const std::string& path, const std::string& key,
                                  const std::string& text) {
  const std::string v = trim(text);
  if (v.empty() || v == "none" || v == "null") return std::nullopt;
  try {
    std::size_t used = 0;
    const double d = std::stod(v, &used);
    if (used == v.size()) return d;
  } catch (const std::exception&) {
  }
  throw InputError(path + ": [" + key + "]: \"" + v + "\" is not a number (or none)");
}

Tolerances parse_json_tolerances(const std::string& path, const std::string& text) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw InputError(path + ": not a JSON object of metric -> {lower, upper}");
  Tolerances out;
  for (const auto& [key, v] : j.items()) {
    if (!v.is_object()) throw InputError(path + ": \"" + key + "\" must be an object {lower, upper}");
    Tolerance t;
    for (const auto& [field, x] : v.items()) {
      if (field != "lower" && field != "upper")
        throw InputError(path + ": \"" + key + "\" has an unknown field \"" + field + "\"");
      if (!x.is_null() && !x.is_number())
        throw InputError(path + ": \"" + key + "\"." + field + " must be a number or null");
      (field == "lower" ? t.lower : t.upper) =
          x.is_null() ? std::nullopt : std::optional<double>(x.get<double>());
    }
    check_bounds(path, key, t);
    out[key] = t;
  }
  return out;
}

Tolerances parse_ini_tolerances(const std::string& path, const std::string& text) {
  Tolerances out;
  std::istringstream in(text);
  std::string line, section;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    line = trim(line.substr(0, line.find_first_of("#;")));
    if (line.empty()) continue;
    if (line.front() == '[') {
      if (line.back() != ']') throw InputError(path + ":" + std::to_string(number) + ": unclosed [section]");
      section = trim(line.substr(1, line.size() - 2));
      out[section] = Tolerance{};
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos || section.empty())
      throw InputError(path + ":" + std::to_string(number) + ": expected key = value inside a [metric] section");
    const std::string key = trim(line.substr(0, eq));
    if (key != "lower" && key != "upper")
      throw InputError(path + ":" + std::to_string(number) + ": unknown key \"" + key + "\" (lower, upper)");
    (key == "lower" ? out[section].lower : out[section].upper) = parse_bound(path, section, line.substr(eq + 1));
  }
  for (const auto& [key, t] : out) check_bounds(path, key, t);
  return out;
}

// "<series> P=<P> <kind>" or "<series> <kind>": the kind is the last word.
std::string metric_kind(const std::string& metric) {
  const auto sp = metric.rfind(' ');
  return sp == std::string::npos ? metric : metric.substr(sp + 1);
}

void put(std::map<std::string, double>& m, const std::string& name, std::optional<double> v) {
  if (v && std::isfinite(*v)) m[name] = *v;
}

}  // namespace

Tolerances default_tolerances() {
  return {{"time_s", {std::nullopt, 0.10}},
          {"speedup", {-0.10, std::nullopt}},
          {"efficiency", {-0.10, std::nullopt}},
          {"throughput_wafers_per_s", {-0.10, std::nullopt}},
          {"imbalance", {std::nullopt, 0.10}}};
}

Tolerances read_tolerances(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open the tolerances file");
  std::ostringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  const auto first = s.find_first_not_of(" \t\r\n");
  Tolerances given = (first != std::string::npos && s[first] == '{') ? parse_json_tolerances(path, s)
                                                                     : parse_ini_tolerances(path, s);
  Tolerances out = default_tolerances();
  for (auto& [k, t] : given) out[k] = t;
  return out;
}

std::optional<Tolerance> tolerance_for(const Tolerances& t, const std::string& metric) {
  if (auto it = t.find(metric); it != t.end()) return it->second;
  if (auto it = t.find(metric_kind(metric)); it != t.end()) return it->second;
  return std::nullopt;
}

std::map<std::string, double> study_metrics(const Study& s) {
  std::map<std::string, double> m;
  for (const auto& series : s.series) {
    for (const auto& p : series.points) {
      const std::string at = series.label + " P=" + std::to_string(p.ranks) + " ";
      put(m, at + "time_s", p.time_s.median);
      if (p.speedup) put(m, at + "speedup", p.speedup->median);
      if (p.efficiency) put(m, at + "efficiency", p.efficiency->median);
      put(m, at + "karp_flatt", p.karp_flatt);
      put(m, at + "imbalance", p.imbalance.median);
      put(m, at + "throughput_wafers_per_s", p.wafers_per_s.median);
    }
    if (series.amdahl) put(m, series.label + " serial_fraction", series.amdahl->serial_fraction);
  }
  return m;
}

ReferenceStudy read_reference_study(const std::string& path) {
  std::string file = path;
  if (std::filesystem::is_directory(path)) file = (std::filesystem::path(path) / "study.json").string();
  std::ifstream in(file);
  if (!in) throw InputError(file + ": cannot open the reference study");
  const json j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("wafermill_study") || !j.contains("metrics") ||
      !j.at("metrics").is_object())
    throw InputError(file + ": not a wafermill study.json (no \"wafermill_study\" and \"metrics\")");
  ReferenceStudy r;
  r.source = file;
  for (const auto& [name, v] : j.at("metrics").items()) {
    if (!v.is_number()) throw InputError(file + ": metric \"" + name + "\" is not a number");
    r.metrics[name] = v.get<double>();
  }
  if (j.contains("runs") && j.at("runs").is_array())
    for (const auto& run : j.at("runs"))
      if (run.contains("input_fingerprint") && run.at("input_fingerprint").is_string())
        r.input_fingerprints.push_back(run.at("input_fingerprint").get<std::string>());
  return r;
}

StudyComparison compare_studies(const Study& current, const ReferenceStudy& reference,
                                const Tolerances& tolerances) {
  StudyComparison c;
  c.reference_source = reference.source;
  const auto now = study_metrics(current);
  std::set<std::string> names;
  for (const auto& [k, v] : now) names.insert(k);
  for (const auto& [k, v] : reference.metrics) names.insert(k);
  for (const auto& name : names) {
    MetricCheck m;
    m.metric = name;
    if (auto it = now.find(name); it != now.end()) m.value = it->second;
    if (auto it = reference.metrics.find(name); it != reference.metrics.end()) m.reference = it->second;
    const auto tol = tolerance_for(tolerances, name);
    if (tol) {
      m.lower = tol->lower;
      m.upper = tol->upper;
    }
    if (!m.reference) {
      m.status = "new";
    } else if (!m.value) {
      m.status = "missing";
    } else if (!tol || (!tol->lower && !tol->upper)) {
      m.status = "ungated";
    } else {
      // Accepted band [r (1 + lower), r (1 + upper)], ordered for a negative reference.
      const double r = *m.reference;
      const double lo = tol->lower ? r * (1 + *tol->lower) : -INFINITY;
      const double hi = tol->upper ? r * (1 + *tol->upper) : INFINITY;
      const bool inside = *m.value >= std::min(lo, hi) && *m.value <= std::max(lo, hi);
      m.status = inside ? "pass" : "regressed";
    }
    c.checks.push_back(std::move(m));
  }
  std::set<std::string> ours, theirs(reference.input_fingerprints.begin(), reference.input_fingerprints.end());
  for (const auto& run : current.runs) ours.insert(run.report.provenance.input_fingerprint);
  if (!theirs.empty() && ours != theirs)
    c.notes.push_back("the reference study read different inputs (input fingerprints differ): "
                      "figures may not be comparable");
  std::size_t missing = 0;
  for (const auto& m : c.checks) missing += m.status == "missing";
  if (missing)
    c.notes.push_back(std::to_string(missing) + " metric(s) of the reference are missing from this study "
                      "(a rank count or policy was not run)");
  return c;
}

}  // namespace wafermill::report
