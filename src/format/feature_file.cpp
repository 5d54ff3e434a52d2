/// @file feature_file.cpp
/// @brief The output file writer (feature_file.hpp; layout in docs/FORMAT.md "Output").
#include "wafermill/format/feature_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <utility>

#include "wafermill/error.hpp"
#include "wafermill/format/atomic_output.hpp"
#include "wafermill/format/h5.hpp"
#include "wafermill/format/input_wafers.hpp"

namespace wafermill::format {
namespace {

void check_count(const std::string& file, const std::string& what, std::size_t have,
                 std::uint64_t want) {
  if (have != want) {
    throw std::invalid_argument(file + ": " + what + ": " + std::to_string(have) +
                                " values given, " + std::to_string(want) + " expected");
  }
}

}  // namespace

// Writeback of this process's rows, started as they are written and awaited when the rows
// phase ends, so the data reach the disk while the ranks still compute, each its own ranges,
// and the commit's fsync on rank 0 finds little left to write (measured: a 155 MB output's
// fsync took 53 ms of rank 0's 63 ms phase 2 on the 2-core VM). Linux sync_file_range only
// moves data; the commit's fsync still makes file and metadata durable, so this is speed, not
// correctness, and it does nothing where the call is missing or refused.
class RowWriteback {
 public:
  void open(const std::string& path) { fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC); }
  ~RowWriteback() {
    if (fd_ >= 0) ::close(fd_);
  }
  void started(std::optional<std::uint64_t> base, std::uint64_t offset, std::uint64_t bytes) {
    if (fd_ < 0 || !base || bytes == 0) return;
    const auto at = static_cast<off64_t>(*base + offset);
    ::sync_file_range(fd_, at, static_cast<off64_t>(bytes), SYNC_FILE_RANGE_WRITE);
    ranges_.emplace_back(at, static_cast<off64_t>(bytes));
  }
  void wait() {
    for (const auto& [at, n] : ranges_)
      ::sync_file_range(
          fd_, at, n,
          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    ranges_.clear();
  }

 private:
  int fd_ = -1;
  std::vector<std::pair<off64_t, off64_t>> ranges_;
};

struct FeatureFileWriter::Handles {
  // Declaration order is destruction order reversed: datasets close before groups, groups
  // before the file, and the temporary file is removed last (rank 0 owns it).
  std::optional<AtomicOutput> out;
  h5::File file;
  h5::Group features;
  h5::Group wafers;
  h5::Group summary;
  h5::Dataset values;
  h5::Dataset by_step;
  h5::Dataset score;
  h5::Dataset flag;
  h5::Dataset t2, spe, reason, contrib_column, contrib_share;  // with a model only
  h5::Group maps, images;                                      // with pictures only
  h5::Dataset map_features, map_pattern, map_flag;
  h5::Dataset image_wafer, image_statistics, image_scores, image_flag;
  // File offsets of the contiguous row datasets (allocated at creation under MPI-IO).
  std::optional<std::uint64_t> values_at, by_step_at;
  RowWriteback writeback;
};

FeatureFileWriter::FeatureFileWriter(std::string final_path, const FeatureFileLayout& layout,
                                     bool force, MPI_Comm comm)
    : h_(std::make_unique<Handles>()),
      final_path_(std::move(final_path)),
      layout_(layout),
      comm_(comm) {
  if (comm_ != MPI_COMM_NULL) MPI_Comm_rank(comm_, &rank_);
  if (rank_ == 0) {
    h_->out.emplace(final_path_, force);
    temp_path_ = h_->out->temp_path();
  }
  if (comm_ != MPI_COMM_NULL) {
    int len = static_cast<int>(temp_path_.size());
    MPI_Bcast(&len, 1, MPI_INT, 0, comm_);
    temp_path_.resize(static_cast<std::size_t>(len));
    MPI_Bcast(temp_path_.data(), len, MPI_CHAR, 0, comm_);
  }
  const std::uint64_t W = layout.n_wafers;
  const std::uint64_t S = layout.sensor_names.size();
  const std::uint64_t F = layout.feature_names.size();
  const std::uint64_t K = layout.n_steps;
  try {
    h_->file = comm_ != MPI_COMM_NULL
                   ? h5::File::create_mpio(temp_path_, comm_, h5::CreateMode::exclusive)
                   : h5::File::create(temp_path_, h5::CreateMode::exclusive);
  } catch (const HdfError& e) {
    throw InputError(final_path_ + ": cannot create the output file " + temp_path_ + ": " +
                     e.what());
  }
  // Contiguous rows, no fill: every row is written once by the rank that computed it; a
  // contiguous row is one file extent, so independent writes of two ranks never share a
  // chunk or need a read-modify-write.
  h5::DatasetOptions rows;
  rows.no_fill = true;
  if (layout.traces) {
    h_->features = h_->file.create_group("features");
    h_->wafers = h_->file.create_group("wafers");
    h_->summary = h_->file.create_group("summary");
    h_->values = h_->features.create_dataset("values", h5::Elem::f64, {W, S, F}, rows);
    if (K > 0)
      h_->by_step = h_->features.create_dataset("by_step", h5::Elem::f64, {W, K, S, F}, rows);
    h_->score = h_->wafers.create_dataset("score", h5::Elem::f64, {W}, rows);
    h_->flag = h_->wafers.create_dataset("flag", h5::Elem::u8, {W}, rows);
    if (const std::uint64_t N = layout.contributions; N > 0) {
      h_->t2 = h_->wafers.create_dataset("t2", h5::Elem::f64, {W}, rows);
      h_->spe = h_->wafers.create_dataset("spe", h5::Elem::f64, {W}, rows);
      h_->reason = h_->wafers.create_dataset("reason", h5::Elem::u8, {W}, rows);
      h_->contrib_column = h_->wafers.create_dataset("contrib_column", h5::Elem::i32, {W, N}, rows);
      h_->contrib_share = h_->wafers.create_dataset("contrib_share", h5::Elem::f64, {W, N}, rows);
    }
    h_->values_at = h_->values.storage().file_offset;
    if (K > 0) h_->by_step_at = h_->by_step.storage().file_offset;
  }
  if (const auto n = layout.n_maps) {
    h_->maps = h_->file.create_group("map_results");
    h_->map_features =
        h_->maps.create_dataset("features", h5::Elem::f64, {*n, layout.map_features}, rows);
    h_->map_pattern = h_->maps.create_dataset("pattern", h5::Elem::u8, {*n}, rows);
    h_->map_flag = h_->maps.create_dataset("flag", h5::Elem::u8, {*n}, rows);
  }
  if (const auto n = layout.n_images) {
    h_->images = h_->file.create_group("image_results");
    h_->image_wafer = h_->images.create_dataset("wafer", h5::Elem::i64, {*n}, rows);
    h_->image_statistics = h_->images.create_dataset("statistics", h5::Elem::f64,
                                                     {*n, layout.image_channels, 4}, rows);
    h_->image_scores = h_->images.create_dataset("scores", h5::Elem::u64, {*n, 3}, rows);
    h_->image_flag = h_->images.create_dataset("flag", h5::Elem::u8, {*n}, rows);
  }
  h_->writeback.open(temp_path_);
}

FeatureFileWriter::~FeatureFileWriter() {
  // Every normal path ends the rows phase (finish_rows) first. Destroyed with the rows phase
  // open under MPI-IO means an exception on this rank: the others may be anywhere, so the
  // collective closes would hang; the handles are abandoned (main aborts the job) and rank 0's
  // AtomicOutput still removes the temporary file.
  if (rows_open_ && comm_ != MPI_COMM_NULL) {
    for (h5::Location* l : std::initializer_list<h5::Location*>{&h_->image_flag,
                                                                &h_->image_scores,
                                                                &h_->image_statistics,
                                                                &h_->image_wafer,
                                                                &h_->map_flag,
                                                                &h_->map_pattern,
                                                                &h_->map_features,
                                                                &h_->images,
                                                                &h_->maps,
                                                                &h_->contrib_share,
                                                                &h_->contrib_column,
                                                                &h_->reason,
                                                                &h_->spe,
                                                                &h_->t2,
                                                                &h_->flag,
                                                                &h_->score,
                                                                &h_->by_step,
                                                                &h_->values,
                                                                &h_->summary,
                                                                &h_->wafers,
                                                                &h_->features,
                                                                &h_->file})
      l->abandon();
  }
}

void FeatureFileWriter::phase2_only(const char* what) const {
  if (rows_open_ || rank_ != 0)
    throw std::logic_error(std::string("FeatureFileWriter::") + what +
                           ": rank 0 only, after finish_rows()");
}

void FeatureFileWriter::finish_rows() {
  if (!rows_open_) return;
  h_->writeback.wait();
  for (h5::Dataset* d : {&h_->image_flag, &h_->image_scores, &h_->image_statistics,
                         &h_->image_wafer, &h_->map_flag, &h_->map_pattern, &h_->map_features})
    *d = h5::Dataset();
  h_->images = h5::Group();
  h_->maps = h5::Group();
  h_->contrib_share = h5::Dataset();
  h_->contrib_column = h5::Dataset();
  h_->reason = h5::Dataset();
  h_->spe = h5::Dataset();
  h_->t2 = h5::Dataset();
  h_->flag = h5::Dataset();
  h_->score = h5::Dataset();
  h_->by_step = h5::Dataset();
  h_->values = h5::Dataset();
  h_->summary = h5::Group();
  h_->wafers = h5::Group();
  h_->features = h5::Group();
  h_->file.close();  // collective under MPI-IO
  rows_open_ = false;
  if (rank_ != 0) return;
  h_->file = h5::File::open_read_write(temp_path_);
  h_->file.write_string_attribute("format", "wafermill features v1");
  if (!layout_.traces) return;
  h_->features = h_->file.open_group("features");
  h_->wafers = h_->file.open_group("wafers");
  h_->summary = h_->file.open_group("summary");
  h_->features.write_string_dataset("names", layout_.feature_names);
  h_->features.write_string_dataset("sensor_names", layout_.sensor_names);
}

void FeatureFileWriter::write_map_rows(std::uint64_t first, std::span<const double> features,
                                       std::span<const std::uint8_t> pattern,
                                       std::span<const std::uint8_t> flag) {
  if (!layout_.n_maps) throw std::logic_error("write_map_rows: the layout has no maps");
  const std::uint64_t n = pattern.size(), F = layout_.map_features;
  check_count(final_path_, "/map_results/features", features.size(), n * F);
  check_count(final_path_, "/map_results/flag", flag.size(), n);
  if (first + n > *layout_.n_maps)
    throw std::invalid_argument(final_path_ + ": /map_results: rows beyond the maps");
  if (n == 0) return;
  h_->map_features.write(features, {first, 0}, {n, F});
  h_->map_pattern.write(pattern, {first}, {n});
  h_->map_flag.write(flag, {first}, {n});
}

void FeatureFileWriter::write_image_rows(std::uint64_t first, std::span<const std::int64_t> wafer,
                                         std::span<const double> statistics,
                                         std::span<const std::uint64_t> scores,
                                         std::span<const std::uint8_t> flag) {
  if (!layout_.n_images) throw std::logic_error("write_image_rows: the layout has no images");
  const std::uint64_t n = flag.size(), C = layout_.image_channels;
  check_count(final_path_, "/image_results/wafer", wafer.size(), n);
  check_count(final_path_, "/image_results/statistics", statistics.size(), n * C * 4);
  check_count(final_path_, "/image_results/scores", scores.size(), n * 3);
  if (first + n > *layout_.n_images)
    throw std::invalid_argument(final_path_ + ": /image_results: rows beyond the images");
  if (n == 0) return;
  h_->image_wafer.write(wafer, {first}, {n});
  h_->image_statistics.write(statistics, {first, 0, 0}, {n, C, 4});
  h_->image_scores.write(scores, {first, 0}, {n, 3});
  h_->image_flag.write(flag, {first}, {n});
}

void FeatureFileWriter::write_features(std::uint64_t first_wafer, std::uint64_t n,
                                       std::span<const double> values) {
  const std::uint64_t S = layout_.sensor_names.size();
  const std::uint64_t F = layout_.feature_names.size();
  check_count(final_path_, "/features/values", values.size(), n * S * F);
  h_->values.write(values, {first_wafer, 0, 0}, {n, S, F});
  h_->writeback.started(h_->values_at, first_wafer * S * F * 8, n * S * F * 8);
}

void FeatureFileWriter::write_step_features(std::uint64_t first_wafer, std::uint64_t n,
                                            std::span<const double> values) {
  const std::uint64_t K = layout_.n_steps;
  const std::uint64_t S = layout_.sensor_names.size();
  const std::uint64_t F = layout_.feature_names.size();
  if (K == 0) throw std::logic_error("write_step_features: the layout has no steps");
  check_count(final_path_, "/features/by_step", values.size(), n * K * S * F);
  h_->by_step.write(values, {first_wafer, 0, 0, 0}, {n, K, S, F});
  h_->writeback.started(h_->by_step_at, first_wafer * K * S * F * 8, n * K * S * F * 8);
}

void FeatureFileWriter::read_features(std::uint64_t first_wafer, std::uint64_t n,
                                      std::span<double> out) {
  const std::uint64_t S = layout_.sensor_names.size();
  const std::uint64_t F = layout_.feature_names.size();
  check_count(final_path_, "/features/values", out.size(), n * S * F);
  h_->values.read(out, {first_wafer, 0, 0}, {n, S, F});
}

void FeatureFileWriter::read_step_features(std::uint64_t first_wafer, std::uint64_t n,
                                           std::span<double> out) {
  const std::uint64_t K = layout_.n_steps;
  const std::uint64_t S = layout_.sensor_names.size();
  const std::uint64_t F = layout_.feature_names.size();
  if (K == 0) throw std::logic_error("read_step_features: the layout has no steps");
  check_count(final_path_, "/features/by_step", out.size(), n * K * S * F);
  h_->by_step.read(out, {first_wafer, 0, 0, 0}, {n, K, S, F});
}

void FeatureFileWriter::copy_wafer_fields(const TraceIndex& input,
                                          const std::vector<std::string>& carried) {
  phase2_only("copy_wafer_fields");
  if (input.n_wafers != layout_.n_wafers) {
    throw std::invalid_argument("copy_wafer_fields: input has a different number of wafers");
  }
  format::copy_source_wafers(input, h_->file, h_->wafers, carried);
  if (input.wafer_fields.empty() || !input.sources.empty()) return;
  // The index has checked every field (1-D, n_wafers, numbers or strings).
  format::copy_input_wafers(input.path, h_->file, &h_->wafers);
}

void FeatureFileWriter::write_scores(std::uint64_t first_wafer, std::span<const double> score,
                                     std::span<const std::uint8_t> flag) {
  check_count(final_path_, "/wafers/flag", flag.size(), score.size());
  if (first_wafer + score.size() > layout_.n_wafers)
    throw std::invalid_argument(final_path_ + ": /wafers/score: rows beyond n_wafers");
  h_->score.write(score, {first_wafer}, {score.size()});
  h_->flag.write(flag, {first_wafer}, {flag.size()});
}

void FeatureFileWriter::write_verdicts(std::uint64_t first_wafer, const VerdictRows& r) {
  const std::uint64_t n = r.t2.size();
  const std::uint64_t N = layout_.contributions;
  if (N == 0) throw std::logic_error("FeatureFileWriter::write_verdicts: the layout has no model");
  check_count(final_path_, "/wafers/spe", r.spe.size(), n);
  check_count(final_path_, "/wafers/reason", r.reason.size(), n);
  check_count(final_path_, "/wafers/contrib_column", r.contrib_column.size(), n * N);
  check_count(final_path_, "/wafers/contrib_share", r.contrib_share.size(), n * N);
  if (first_wafer + n > layout_.n_wafers)
    throw std::invalid_argument(final_path_ + ": /wafers/t2: rows beyond n_wafers");
  h_->t2.write(r.t2, {first_wafer}, {n});
  h_->spe.write(r.spe, {first_wafer}, {n});
  h_->reason.write(r.reason, {first_wafer}, {n});
  h_->contrib_column.write(r.contrib_column, {first_wafer, 0}, {n, N});
  h_->contrib_share.write(r.contrib_share, {first_wafer, 0}, {n, N});
}

void FeatureFileWriter::write_summary(const std::string& name, std::span<const double> values,
                                      const std::vector<std::uint64_t>& dims) {
  phase2_only("write_summary");
  std::uint64_t n = 1;
  for (auto d : dims) n *= d;
  check_count(final_path_, "/summary/" + name, values.size(), n);
  h_->summary.create_dataset(name, h5::Elem::f64, dims).write_all(values);
}

void FeatureFileWriter::write_summary_u64(const std::string& name,
                                          std::span<const std::uint64_t> values,
                                          const std::vector<std::uint64_t>& dims) {
  phase2_only("write_summary_u64");
  std::uint64_t n = 1;
  for (auto d : dims) n *= d;
  check_count(final_path_, "/summary/" + name, values.size(), n);
  h_->summary.create_dataset(name, h5::Elem::u64, dims).write_all(values);
}

void FeatureFileWriter::write_pictures(const PictureResults& results) {
  phase2_only("write_pictures");
  write_picture_results(h_->file, results);
}

void FeatureFileWriter::copy_input_wafers(const std::string& input_path) {
  phase2_only("copy_input_wafers");
  format::copy_input_wafers(input_path, h_->file);
}

void FeatureFileWriter::set_attribute(const std::string& name, const std::string& value) {
  phase2_only("set_attribute");
  h_->file.write_string_attribute(name, value);
}

void FeatureFileWriter::set_attribute(const std::string& name, std::int64_t value) {
  phase2_only("set_attribute");
  h_->file.write_int_attribute(name, value);
}

void FeatureFileWriter::commit() {
  if (committed_) return;
  phase2_only("commit");
  h_->summary = h5::Group();
  h_->wafers = h5::Group();
  h_->features = h5::Group();
  h_->file.close();
  h_->out->commit();
  committed_ = true;
}

}  // namespace wafermill::format
