/// @file sample_files.cpp
/// @brief Writes the sample files of the format tests (sample_files.hpp).
#include "sample_files.hpp"

#include <unistd.h>

#include <filesystem>

#include "wafermill/format/h5.hpp"

namespace wafermill::format::testing {

namespace {
/// This process's scratch folder, removed when the test program exits.
struct ScratchDir {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("wafermill_format_test." + std::to_string(::getpid()));
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};
}  // namespace

std::string temp_path(const std::string& name) {
  static ScratchDir scratch;
  std::filesystem::create_directories(scratch.path);
  return (scratch.path / name).string();
}

void write_sample(const std::string& path, const SampleSpec& spec) {
  std::vector<std::int64_t> offsets{0};
  for (auto r : spec.wafer_rows) offsets.push_back(offsets.back() + static_cast<std::int64_t>(r));
  const auto n_samples = static_cast<std::uint64_t>(offsets.back());
  const std::uint64_t S = spec.n_sensors;

  h5::File file = h5::File::create(path);
  h5::Group traces = file.create_group("traces");
  h5::DatasetOptions opts;
  opts.chunk = spec.chunk;
  opts.deflate_level = spec.deflate_level;
  h5::Dataset values = traces.create_dataset("values", spec.float64 ? h5::Elem::f64 : h5::Elem::f32,
                                             {n_samples, S}, opts);
  std::vector<double> v(n_samples * S);
  for (std::uint64_t r = 0; r < n_samples; ++r) {
    for (std::uint64_t s = 0; s < S; ++s) v[r * S + s] = sample_value(r, s);
  }
  if (spec.float64) {
    values.write_all(std::span<const double>(v));
  } else {
    std::vector<float> f(v.begin(), v.end());
    values.write_all(std::span<const float>(f));
  }
  if (spec.sensor_names) {
    std::vector<std::string> names;
    for (std::uint64_t s = 0; s < S; ++s) names.push_back("chamber_" + std::to_string(s));
    values.write_strings_attribute("sensor_names", names);
  }
  traces.create_dataset("offsets", h5::Elem::i64, {offsets.size()})
      .write_all(std::span<const std::int64_t>(offsets));
  if (spec.n_steps > 0) {
    std::vector<std::int32_t> steps(n_samples);
    for (std::uint64_t r = 0; r < n_samples; ++r) steps[r] = sample_step(r, spec.n_steps);
    h5::Dataset step = traces.create_dataset(
        "step", h5::Elem::i32, {n_samples},
        opts.chunk.empty() ? h5::DatasetOptions{} : h5::DatasetOptions{.chunk = {opts.chunk[0]}});
    step.write_all(std::span<const std::int32_t>(steps));
    if (spec.n_steps_attribute) step.write_int_attribute("n_steps", spec.n_steps);
  }
  if (spec.wafer_fields) {
    const std::uint64_t W = spec.wafer_rows.size();
    h5::Group wafers = file.create_group("wafers");
    std::vector<std::string> lots;
    std::vector<std::uint8_t> labels;
    for (std::uint64_t w = 0; w < W; ++w) {
      lots.push_back("LOT" + std::to_string(100 + w));
      labels.push_back(static_cast<std::uint8_t>(w % 2));
    }
    wafers.write_string_dataset("lot_id", lots);
    wafers.create_dataset("label", h5::Elem::u8, {W})
        .write_all(std::span<const std::uint8_t>(labels));
  }
}

}  // namespace wafermill::format::testing
