/// @file feature_file.cpp
/// @brief The output file writer (feature_file.hpp; layout in docs/FORMAT.md "Output").
#include "wafermill/format/feature_file.hpp"

#include <algorithm>

#include "wafermill/error.hpp"
#include "wafermill/format/atomic_output.hpp"
#include "wafermill/format/h5.hpp"
#include "wafermill/format/input_wafers.hpp"

namespace wafermill::format {
namespace {

/// Target size of one chunk of /features/*: large enough for few index entries, small enough
/// that writing one block of wafers touches few chunks.
constexpr std::uint64_t kTargetChunkBytes = 1ULL << 20;

/// Chunk of a [W, inner...] dataset: whole inner dims, enough rows for ~kTargetChunkBytes.
std::vector<std::uint64_t> row_chunk(const std::vector<std::uint64_t>& dims) {
  std::uint64_t row_bytes = 8;
  for (std::size_t i = 1; i < dims.size(); ++i) row_bytes *= std::max<std::uint64_t>(dims[i], 1);
  std::vector<std::uint64_t> chunk = dims;
  chunk[0] = std::max<std::uint64_t>(1, kTargetChunkBytes / row_bytes);
  return chunk;
}

void check_count(const std::string& file, const std::string& what, std::size_t have,
                 std::uint64_t want) {
  if (have != want) {
    throw std::invalid_argument(file + ": " + what + ": " + std::to_string(have) +
                                " values given, " + std::to_string(want) + " expected");
  }
}

}  // namespace

struct FeatureFileWriter::Handles {
  explicit Handles(const std::string& final_path, bool force) : out(final_path, force) {}
  // Declaration order is destruction order reversed: datasets close before groups, groups
  // before the file, and the temporary file is removed last.
  AtomicOutput out;
  h5::File file;
  h5::Group features;
  h5::Group wafers;
  h5::Group summary;
  h5::Dataset values;
  h5::Dataset by_step;
};

FeatureFileWriter::FeatureFileWriter(std::string final_path, const FeatureFileLayout& layout,
                                     bool force)
    : h_(std::make_unique<Handles>(final_path, force)),
      final_path_(std::move(final_path)),
      temp_path_(h_->out.temp_path()),
      layout_(layout) {
  const std::uint64_t W = layout.n_wafers;
  const std::uint64_t S = layout.sensor_names.size();
  const std::uint64_t F = layout.feature_names.size();
  const std::uint64_t K = layout.n_steps;
  try {
    h_->file = h5::File::create(temp_path_, h5::CreateMode::exclusive);
  } catch (const HdfError& e) {
    throw InputError(final_path_ + ": cannot create the output file " + temp_path_ + ": " +
                     e.what());
  }
  h_->file.write_string_attribute("format", "wafermill features v1");
  h_->features = h_->file.create_group("features");
  h_->wafers = h_->file.create_group("wafers");
  h_->summary = h_->file.create_group("summary");
  const std::vector<std::uint64_t> dims{W, S, F};
  h_->values =
      h_->features.create_dataset("values", h5::Elem::f64, dims, {.chunk = row_chunk(dims)});
  if (K > 0) {
    const std::vector<std::uint64_t> step_dims{W, K, S, F};
    h_->by_step = h_->features.create_dataset("by_step", h5::Elem::f64, step_dims,
                                              {.chunk = row_chunk(step_dims)});
  }
  h_->features.write_string_dataset("names", layout.feature_names);
  h_->features.write_string_dataset("sensor_names", layout.sensor_names);
}

FeatureFileWriter::~FeatureFileWriter() = default;  // Handles closes, AtomicOutput removes

void FeatureFileWriter::write_features(std::uint64_t first_wafer, std::uint64_t n,
                                       std::span<const double> values) {
  const std::uint64_t S = layout_.sensor_names.size();
  const std::uint64_t F = layout_.feature_names.size();
  check_count(final_path_, "/features/values", values.size(), n * S * F);
  h_->values.write(values, {first_wafer, 0, 0}, {n, S, F});
}

void FeatureFileWriter::write_step_features(std::uint64_t first_wafer, std::uint64_t n,
                                            std::span<const double> values) {
  const std::uint64_t K = layout_.n_steps;
  const std::uint64_t S = layout_.sensor_names.size();
  const std::uint64_t F = layout_.feature_names.size();
  if (K == 0) throw std::logic_error("write_step_features: the layout has no steps");
  check_count(final_path_, "/features/by_step", values.size(), n * K * S * F);
  h_->by_step.write(values, {first_wafer, 0, 0, 0}, {n, K, S, F});
}

void FeatureFileWriter::read_features(std::uint64_t first_wafer, std::uint64_t n,
                                      std::span<double> out) {
  const std::uint64_t S = layout_.sensor_names.size();
  const std::uint64_t F = layout_.feature_names.size();
  check_count(final_path_, "/features/values", out.size(), n * S * F);
  h_->values.read(out, {first_wafer, 0, 0}, {n, S, F});
}

void FeatureFileWriter::copy_wafer_fields(const TraceIndex& input) {
  if (input.n_wafers != layout_.n_wafers) {
    throw std::invalid_argument("copy_wafer_fields: input has a different number of wafers");
  }
  if (input.wafer_fields.empty()) return;
  // The index has checked every field (1-D, n_wafers, numbers or strings).
  copy_input_wafers(input.path, h_->file, &h_->wafers);
}

void FeatureFileWriter::write_scores(std::span<const double> score,
                                     std::span<const std::uint8_t> flag) {
  const std::uint64_t W = layout_.n_wafers;
  check_count(final_path_, "/wafers/score", score.size(), W);
  check_count(final_path_, "/wafers/flag", flag.size(), W);
  h_->wafers.create_dataset("score", h5::Elem::f64, {W}).write_all(score);
  h_->wafers.create_dataset("flag", h5::Elem::u8, {W}).write_all(flag);
}

void FeatureFileWriter::write_summary(const std::string& name, std::span<const double> values,
                                      const std::vector<std::uint64_t>& dims) {
  std::uint64_t n = 1;
  for (auto d : dims) n *= d;
  check_count(final_path_, "/summary/" + name, values.size(), n);
  h_->summary.create_dataset(name, h5::Elem::f64, dims).write_all(values);
}

void FeatureFileWriter::write_summary_u64(const std::string& name,
                                          std::span<const std::uint64_t> values,
                                          const std::vector<std::uint64_t>& dims) {
  std::uint64_t n = 1;
  for (auto d : dims) n *= d;
  check_count(final_path_, "/summary/" + name, values.size(), n);
  h_->summary.create_dataset(name, h5::Elem::u64, dims).write_all(values);
}

void FeatureFileWriter::write_pictures(const PictureResults& results) {
  write_picture_results(h_->file, results);
}

void FeatureFileWriter::set_attribute(const std::string& name, const std::string& value) {
  h_->file.write_string_attribute(name, value);
}

void FeatureFileWriter::set_attribute(const std::string& name, std::int64_t value) {
  h_->file.write_int_attribute(name, value);
}

void FeatureFileWriter::commit() {
  if (committed_) return;
  h_->by_step = h5::Dataset();
  h_->values = h5::Dataset();
  h_->summary = h5::Group();
  h_->wafers = h5::Group();
  h_->features = h5::Group();
  h_->file.close();
  h_->out.commit();
  committed_ = true;
}

}  // namespace wafermill::format
