/// @file cuda_backend.cpp
/// @brief The CUDA feature backend: a chunk is cut into device batches (batch_plan.hpp) that
/// alternate between two slots, each with its own stream, device arena and pinned buffers.
///
/// What overlaps: while the device runs batch k (copy in, kernels, copy out on slot k % 2),
/// the host plans batch k + 1 and packs its rows into the other slot's pinned buffer, and its
/// copy in runs on the copy engine while batch k's kernels run. extract() returns when every
/// batch of the chunk is back, so the job's read of the next chunk follows it (docs/GPU.md).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "../cuda_entry.hpp"
#include "../segment_median.hpp"
#include "batch_plan.hpp"
#include "cuda_resources.hpp"
#include "device_select.hpp"
#include "segment_kernels.hpp"
#include "wafermill/cuda_check.hpp"
#include "wafermill/error.hpp"
#include "wafermill/features/backend.hpp"

namespace wafermill::features {
namespace {

using detail::BatchArgs;
using detail::BatchPlan;
using detail::BatchShape;
using detail::DeviceLayout;

class CudaBackend final : public FeatureBackend {
 public:
  CudaBackend(const BackendOptions& options, const FeatureLayout& layout)
      : layout_(layout),
        device_(
            detail::select_device(options.device, cuda_devices(), detail::launcher_local_rank())),
        want_median_(layout.features.contains(Feature::median)) {
    for (const Feature f : layout.features.list())
      selected_.push_back(static_cast<std::uint8_t>(f));
    median_column_ = layout.features.column(Feature::median);
    const std::size_t groups = 1 + layout.n_steps;
    carry_ = detail::DeviceBuffer(std::max<std::size_t>(1, groups * layout.n_sensors) *
                                  sizeof(SegmentSums));
    if (options.device_memory_bytes <= carry_.bytes()) {
      throw UsageError("backend cuda: device_memory_bytes " +
                       std::to_string(options.device_memory_bytes) + " is too small");
    }
    slot_bytes_ = (options.device_memory_bytes - carry_.bytes()) / 2;
    for (Slot& s : slots_) s.arena = detail::DeviceBuffer(slot_bytes_);
  }

  ~CudaBackend() override { cudaSetDevice(device_); }

  std::string_view name() const override { return "cuda"; }

  void extract(const TraceChunk& chunk, FeatureBlock& out) override {
    check(chunk, out);
    WAFERMILL_CUDA_CHECK(cudaSetDevice(device_));
    BatchShape shape;
    shape.n_columns = chunk.n_columns;
    shape.sample_bytes = chunk.type == SampleType::float32 ? 4 : 8;
    shape.n_features = selected_.size();
    shape.groups = 1 + layout_.n_steps;
    shape.median = want_median_;
    if (chunk.n_wafers() == 0 || chunk.n_columns == 0) return;
    detail::BatchPlanner planner(
        chunk.offsets, layout_.n_steps > 0 ? chunk.steps : std::span<const std::int32_t>{},
        layout_.n_steps, shape, slot_bytes_, &detail::sort_temp_bytes);
    std::size_t k = 0;
    try {
      for (;; ++k) {
        Slot& slot = slots_[k % 2];
        if (slot.busy) finish(slot, chunk, shape, out);
        if (!planner.next(slot.plan)) break;
        launch(slot, chunk, shape);
      }
      for (std::size_t i = 1; i <= 2; ++i) {
        Slot& slot = slots_[(k + i) % 2];
        if (slot.busy) finish(slot, chunk, shape, out);
      }
    } catch (...) {
      // Nothing may still write into buffers the caller frees.
      for (Slot& s : slots_) {
        cudaStreamSynchronize(s.stream.get());
        s.busy = false;
      }
      throw;
    }
  }

  double busy_seconds() const override { return busy_seconds_; }

 private:
  struct Slot {
    detail::DeviceBuffer arena;
    detail::PinnedBuffer upload;
    detail::PinnedBuffer download;
    detail::Event kernels_start, kernels_end, done;
    BatchPlan plan;
    DeviceLayout layout;
    bool median = false;
    bool busy = false;
    detail::Stream stream;  // last: destroyed first, its synchronisation before the buffers go
  };

  void check(const TraceChunk& chunk, const FeatureBlock& out) const {
    const auto fail = [](const std::string& what) {
      throw std::invalid_argument("cuda backend: " + what);
    };
    if (chunk.first_sensor + chunk.n_columns > layout_.n_sensors) {
      fail("sensor columns exceed the layout's " + std::to_string(layout_.n_sensors) + " sensors");
    }
    if (out.layout.n_sensors != layout_.n_sensors || out.layout.n_steps != layout_.n_steps ||
        out.layout.features.mask() != layout_.features.mask()) {
      fail("the feature block was sized for another layout");
    }
    if (chunk.first_wafer < out.first_wafer ||
        chunk.first_wafer + chunk.n_wafers() > out.first_wafer + out.n_wafers) {
      fail("the chunk's wafers lie outside the feature block's");
    }
    if (layout_.n_steps > 0 && chunk.steps.size() != chunk.n_rows()) {
      fail("the layout has steps but the chunk has " + std::to_string(chunk.steps.size()) +
           " step values for " + std::to_string(chunk.n_rows()) + " rows");
    }
    if (chunk.values == nullptr && chunk.n_rows() > 0 && chunk.n_columns > 0) {
      fail("the chunk has rows but no values");
    }
  }

  void launch(Slot& slot, const TraceChunk& chunk, const BatchShape& shape) {
    const BatchPlan& plan = slot.plan;
    slot.median = want_median_ && !plan.sliced;
    BatchShape s = shape;
    s.median = slot.median;
    const std::size_t temp = slot.median ? detail::sort_temp_bytes(plan.max_keys(s)) : 0;
    slot.layout = detail::device_layout(s, plan.n_rows, plan.runs.size(), plan.pieces.size(),
                                        plan.segments.size(), plan.n_wafers, temp);
    const DeviceLayout& l = slot.layout;
    if (l.total > slot_bytes_) throw std::logic_error("cuda backend: batch exceeds its arena");

    // Pack the upload in the arena's own layout, so one copy moves it.
    const std::size_t up = detail::upload_bytes(s, plan.n_rows, plan.runs.size(),
                                                plan.pieces.size(), plan.segments.size());
    slot.upload.reserve(up);
    slot.download.reserve(l.download_bytes);
    unsigned char* host = slot.upload.get();
    const std::size_t row_bytes = chunk.n_columns * s.sample_bytes;
    std::memcpy(host + l.samples,
                static_cast<const unsigned char*>(chunk.values) + plan.row_begin * row_bytes,
                plan.n_rows * row_bytes);
    std::memcpy(host + l.runs, plan.runs.data(), plan.runs.size() * sizeof(detail::Run));
    std::memcpy(host + l.pieces, plan.pieces.data(), plan.pieces.size() * sizeof(detail::Piece));
    std::memcpy(host + l.segments, plan.segments.data(),
                plan.segments.size() * sizeof(detail::Segment));

    auto* dev = static_cast<unsigned char*>(slot.arena.get());
    const cudaStream_t stream = slot.stream.get();
    WAFERMILL_CUDA_CHECK(cudaMemcpyAsync(dev, host, up, cudaMemcpyHostToDevice, stream));
    // A slice continues the previous slice's sums, written on the other stream.
    if (plan.carry_in) WAFERMILL_CUDA_CHECK(cudaStreamWaitEvent(stream, carry_ready_.get(), 0));

    BatchArgs a;
    a.samples = dev + l.samples;
    a.float64 = chunk.type == SampleType::float64;
    a.n_columns = static_cast<std::uint32_t>(chunk.n_columns);
    a.n_pieces = static_cast<std::uint32_t>(plan.pieces.size());
    a.n_segments = static_cast<std::uint32_t>(plan.segments.size());
    a.groups = static_cast<std::uint32_t>(s.groups);
    a.runs = reinterpret_cast<const detail::Run*>(dev + l.runs);
    a.pieces = reinterpret_cast<const detail::Piece*>(dev + l.pieces);
    a.segments = reinterpret_cast<const detail::Segment*>(dev + l.segments);
    a.piece_sums = reinterpret_cast<SegmentSums*>(dev + l.piece_sums);
    a.segment_sums = reinterpret_cast<SegmentSums*>(dev + l.segment_sums);
    a.features = reinterpret_cast<double*>(dev + l.features);
    a.moments = reinterpret_cast<reduce::Moments*>(dev + l.moments);
    a.n_features = static_cast<std::uint32_t>(selected_.size());
    std::copy(selected_.begin(), selected_.end(), a.feature_index);
    a.carry = static_cast<SegmentSums*>(carry_.get());
    a.carry_in = plan.carry_in;
    a.carry_out = plan.carry_out;
    a.median = slot.median;
    if (slot.median) {
      a.key_counts = reinterpret_cast<std::uint32_t*>(dev + l.key_counts);
      a.key_offsets = reinterpret_cast<std::uint32_t*>(dev + l.key_offsets);
      a.piece_slots = reinterpret_cast<std::uint32_t*>(dev + l.piece_slots);
      a.keys = reinterpret_cast<double*>(dev + l.keys);
      a.keys_alt = reinterpret_cast<double*>(dev + l.keys_alt);
      a.ids = reinterpret_cast<std::uint32_t*>(dev + l.ids);
      a.ids_alt = reinterpret_cast<std::uint32_t*>(dev + l.ids_alt);
      a.max_keys = static_cast<std::uint32_t>(plan.max_keys(s));
      a.sort_temp = dev + l.sort_temp;
      a.sort_temp_bytes = temp;
    }
    WAFERMILL_CUDA_CHECK(cudaEventRecord(slot.kernels_start.get(), stream));
    detail::enqueue_batch(a, stream);
    WAFERMILL_CUDA_CHECK(cudaEventRecord(slot.kernels_end.get(), stream));
    if (plan.carry_out) WAFERMILL_CUDA_CHECK(cudaEventRecord(carry_ready_.get(), stream));
    if (!plan.carry_out) {  // a slice before the last has nothing final to copy back
      WAFERMILL_CUDA_CHECK(cudaMemcpyAsync(slot.download.get(), dev + l.features, l.download_bytes,
                                           cudaMemcpyDeviceToHost, stream));
    }
    WAFERMILL_CUDA_CHECK(cudaEventRecord(slot.done.get(), stream));
    slot.busy = true;
  }

  void finish(Slot& slot, const TraceChunk& chunk, const BatchShape& shape, FeatureBlock& out) {
    slot.busy = false;
    WAFERMILL_CUDA_CHECK(cudaEventSynchronize(slot.done.get()));
    float ms = 0.0F;
    WAFERMILL_CUDA_CHECK(
        cudaEventElapsedTime(&ms, slot.kernels_start.get(), slot.kernels_end.get()));
    const double seconds = 1e-3 * ms;
    busy_seconds_ += seconds;
    const BatchPlan& plan = slot.plan;
    // Kernel time is shared among the batch's wafers by their rows (+1, so empty wafers get
    // a share); a slice's time all goes to its one wafer.
    const std::uint64_t w0 = chunk.first_wafer + plan.wafer_begin;
    const double per_row = seconds / static_cast<double>(plan.n_rows + plan.n_wafers);
    for (std::uint64_t i = 0; i < plan.n_wafers; ++i) {
      const std::uint64_t local = plan.wafer_begin + i;
      const auto rows = static_cast<double>(chunk.offsets[local + 1] - chunk.offsets[local]);
      out.compute_seconds[w0 + i - out.first_wafer] +=
          plan.sliced ? seconds : per_row * (rows + 1.0);
    }
    if (plan.carry_out) return;

    const std::size_t nc = chunk.n_columns;
    const std::size_t nf = selected_.size();
    const auto* features = reinterpret_cast<const double*>(slot.download.get());
    const auto* moments = reinterpret_cast<const reduce::Moments*>(
        slot.download.get() + (slot.layout.moments - slot.layout.features));
    for (std::size_t seg = 0; seg < plan.segments.size(); ++seg) {
      const std::uint64_t wafer = w0 + seg / shape.groups;
      const std::size_t g = seg % shape.groups;
      for (std::size_t c = 0; c < nc; ++c) {
        const std::size_t sensor = chunk.first_sensor + c;
        double* dst = g == 0 ? out.at(wafer, sensor) : out.at_step(wafer, g - 1, sensor);
        std::copy_n(features + (seg * nc + c) * nf, nf, dst);
        if (g == 0) {
          out.moments[(wafer - out.first_wafer) * layout_.n_sensors + sensor] =
              moments[(seg / shape.groups) * nc + c];
        }
      }
    }
    if (plan.sliced && want_median_) host_medians(chunk, plan.wafer_begin, out);
  }

  // Medians of a wafer too large for one batch, from the chunk's rows on the host: the
  // device never holds all of its samples at once.
  void host_medians(const TraceChunk& chunk, std::uint64_t local, FeatureBlock& out) {
    const std::uint64_t r0 = chunk.offsets[local] - chunk.offsets.front();
    const std::uint64_t n_rows = chunk.offsets[local + 1] - chunk.offsets[local];
    const std::uint64_t wafer = chunk.first_wafer + local;
    for (std::size_t c = 0; c < chunk.n_columns; ++c) {
      const std::size_t sensor = chunk.first_sensor + c;
      for (std::size_t g = 0; g <= layout_.n_steps; ++g) {
        scratch_.clear();
        for (std::uint64_t r = r0; r < r0 + n_rows; ++r) {
          if (g > 0 && static_cast<std::size_t>(chunk.steps[r]) != g - 1) continue;
          const std::size_t at = r * chunk.n_columns + c;
          const double x = chunk.type == SampleType::float32
                               ? static_cast<const float*>(chunk.values)[at]
                               : static_cast<const double*>(chunk.values)[at];
          if (std::isfinite(x)) scratch_.push_back(x);
        }
        const double m = detail::median_in_place(scratch_.data(), scratch_.size());
        double* dst = g == 0 ? out.at(wafer, sensor) : out.at_step(wafer, g - 1, sensor);
        dst[median_column_] = m;
      }
    }
  }

  // Makes the device current before the members below create streams and events on it.
  struct CurrentDevice {
    explicit CurrentDevice(int device) { WAFERMILL_CUDA_CHECK(cudaSetDevice(device)); }
  };

  FeatureLayout layout_;
  int device_;
  CurrentDevice current_{device_};
  bool want_median_;
  int median_column_ = -1;
  std::vector<std::uint8_t> selected_;
  detail::DeviceBuffer carry_;
  detail::Event carry_ready_;
  std::size_t slot_bytes_ = 0;
  std::array<Slot, 2> slots_;
  std::vector<double> scratch_;
  double busy_seconds_ = 0.0;
};

}  // namespace

std::unique_ptr<FeatureBackend> make_cuda_backend(const BackendOptions& options,
                                                  const FeatureLayout& layout) {
  return std::make_unique<CudaBackend>(options, layout);
}

int cuda_devices() {
  int count = 0;
  // No driver, no device or a driver too old all mean: no CUDA here.
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

}  // namespace wafermill::features
