/// @file input_list.cpp
/// @brief Expansion of the run's input specifications (input_list.hpp).
#include "wafermill/format/input_list.hpp"

#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <utility>

#include "wafermill/error.hpp"

namespace wafermill::format {
namespace {

namespace fs = std::filesystem;

/// One expanded file and where it came from, for the message about a file named twice.
struct Named {
  std::string path;
  std::string origin;  ///< the specification, and the manifest line
};

std::string quoted(const std::string& s) { return "'" + s + "'"; }

bool is_pattern(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

bool has_trace_suffix(const std::string& name) {
  auto ends = [&name](const char* suffix) {
    const std::size_t n = std::strlen(suffix);
    return name.size() > n && name.compare(name.size() - n, n, suffix) == 0;
  };
  return ends(".h5") || ends(".hdf5");
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

void expand_directory(const std::string& spec, std::vector<Named>& out) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(spec, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || !has_trace_suffix(name)) continue;
    std::error_code type_ec;
    if (it->is_regular_file(type_ec)) names.push_back(name);
  }
  if (ec) throw UsageError("--input " + spec + ": cannot list the directory: " + ec.message());
  if (names.empty())
    throw UsageError("--input " + spec +
                     ": the directory holds no trace files (names ending in .h5 or .hdf5)");
  std::sort(names.begin(), names.end());
  for (const auto& name : names)
    out.push_back({(fs::path(spec) / name).string(), "directory " + quoted(spec)});
}

void expand_glob(const std::string& spec, std::vector<Named>& out) {
  glob_t g{};
  const int rc = ::glob(spec.c_str(), 0, nullptr, &g);
  std::vector<std::string> matches;
  if (rc == 0)
    for (std::size_t i = 0; i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
  ::globfree(&g);
  if (rc == GLOB_NOSPACE) throw std::runtime_error("--input " + spec + ": glob ran out of memory");
  std::size_t before = out.size();
  for (const auto& m : matches) {
    struct stat st {};
    if (::stat(m.c_str(), &st) == 0 && S_ISREG(st.st_mode))
      out.push_back({m, "pattern " + quoted(spec)});
  }
  if (out.size() == before) throw UsageError("--input " + spec + ": the pattern matches no file");
}

void expand_manifest(const std::string& spec, std::vector<Named>& out) {
  const std::string manifest = spec.substr(1);
  if (manifest.empty()) throw UsageError("--input @: a manifest needs a file name (@FILE)");
  std::error_code ec;
  if (fs::is_directory(manifest, ec))
    throw UsageError("--input " + spec + ": the manifest " + manifest + " is a directory");
  std::ifstream in(manifest);
  if (!in)
    throw UsageError("--input " + spec + ": cannot read the manifest " + manifest + ": " +
                     std::strerror(errno));
  const fs::path base = fs::path(manifest).parent_path();
  std::string line;
  std::size_t number = 0, listed = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string entry = trim(line);
    if (entry.empty() || entry[0] == '#') continue;
    const fs::path p(entry);
    const std::string path = p.is_absolute() || base.empty() ? entry : (base / p).string();
    const std::string where = "--input " + spec + " line " + std::to_string(number) + ": " + path;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw UsageError(where + ": " + std::strerror(errno));
    if (S_ISDIR(st.st_mode))
      throw UsageError(where + ": is a directory; a manifest lists files, one per line");
    if (!S_ISREG(st.st_mode)) throw UsageError(where + ": not a regular file");
    out.push_back({path, "manifest " + quoted(manifest) + " line " + std::to_string(number)});
    ++listed;
  }
  if (in.bad())
    throw UsageError("--input " + spec + ": reading the manifest failed: " + std::strerror(errno));
  if (listed == 0) throw UsageError("--input " + spec + ": the manifest lists no files");
}

void expand_one(const std::string& spec, std::vector<Named>& out) {
  if (spec.empty()) throw UsageError("--input: an empty specification");
  if (spec[0] == '@') return expand_manifest(spec, out);
  struct stat st {};
  if (::stat(spec.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return expand_directory(spec, out);
    if (!S_ISREG(st.st_mode)) throw UsageError("--input " + spec + ": not a regular file");
    out.push_back({spec, quoted(spec)});
    return;
  }
  const int err = errno;
  if (is_pattern(spec)) return expand_glob(spec, out);
  throw UsageError("--input " + spec + ": " + std::strerror(err));
}

}  // namespace

std::vector<std::string> expand_inputs(const std::vector<std::string>& specs) {
  if (specs.empty()) throw UsageError("--input is required");
  std::vector<Named> named;
  for (const auto& spec : specs) expand_one(spec, named);
  // One stat per file: thousands of files cost milliseconds. Two names of one file (a link,
  // `./x.h5` and `x.h5`) are one file.
  std::map<std::pair<dev_t, ino_t>, std::size_t> seen;
  std::vector<std::string> files;
  files.reserve(named.size());
  for (std::size_t i = 0; i < named.size(); ++i) {
    struct stat st {};
    if (::stat(named[i].path.c_str(), &st) != 0)  // removed while we looked
      throw UsageError("--input " + named[i].path + ": " + std::strerror(errno));
    const auto [it, fresh] = seen.emplace(std::make_pair(st.st_dev, st.st_ino), i);
    if (!fresh) {
      const Named& first = named[it->second];
      const std::string same =
          first.path == named[i].path ? "" : " (the same file as " + first.path + ")";
      throw UsageError("--input: " + named[i].path + same + " is named twice: input " +
                       std::to_string(it->second + 1) + " (from " + first.origin + ") and input " +
                       std::to_string(i + 1) + " (from " + named[i].origin + ") of " +
                       std::to_string(named.size()));
    }
    files.push_back(named[i].path);
  }
  return files;
}

std::string join_input_specs(const std::vector<std::string>& specs) {
  std::string s;
  for (const auto& spec : specs) {
    if (!s.empty()) s += ' ';
    s += spec;
  }
  return s;
}

}  // namespace wafermill::format
