#include "store/content_hash.hpp"

#include <cstring>

#include "wafermill/config.hpp"

namespace wafermill::job {
namespace {

// Bump when a change to the feature code or the store's entry layout changes what an entry
// holds for the same input: old entries then miss instead of being reused.
constexpr std::uint64_t kStoreSchema = 1;

template <typename T>
void hash_columns(const void* values, std::uint64_t n_rows, std::size_t n_columns,
                  Hash64* columns) {
  const T* v = static_cast<const T*>(values);
  for (std::uint64_t r = 0; r < n_rows; ++r, v += n_columns)
    for (std::size_t c = 0; c < n_columns; ++c) {
      T x = v[c];
      std::uint64_t w = 0;
      std::memcpy(&w, &x, sizeof x);
      columns[c].add(w);
    }
}

}  // namespace

void Hash64::add_bytes(const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  add(n);
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    add(w);
  }
  if (n > 0) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, n);
    add(w);
  }
}

std::uint64_t Hash64::finish() const {
  std::uint64_t h = h_;
  h ^= h >> 33;
  h *= kPrime2;
  h ^= h >> 29;
  h *= kPrime3;
  h ^= h >> 32;
  return h;
}

void WaferHasher::reset(std::uint64_t rows, std::size_t n_sensors, std::size_t value_bytes) {
  rows_ = rows;
  value_bytes_ = value_bytes;
  columns_.assign(n_sensors, Hash64(2));
  steps_ = Hash64(1);
}

void WaferHasher::add_values(const void* values, std::uint64_t n_rows, std::size_t first_column,
                             std::size_t n_columns) {
  Hash64* cols = columns_.data() + first_column;
  if (value_bytes_ == 4)
    hash_columns<std::uint32_t>(values, n_rows, n_columns, cols);
  else
    hash_columns<std::uint64_t>(values, n_rows, n_columns, cols);
}

void WaferHasher::add_steps(std::span<const std::int32_t> steps) {
  for (std::int32_t s : steps) steps_.add(static_cast<std::uint32_t>(s));
}

std::uint64_t WaferHasher::finish() const {
  Hash64 h(3);
  h.add(rows_);
  h.add(steps_.finish());
  for (const Hash64& c : columns_) h.add(c.finish());
  return h.finish();
}

std::uint64_t config_digest(const JobConfig& config, const format::TraceIndex& index,
                            const std::string& backend_name) {
  Hash64 h(4);
  h.add(kStoreSchema);
  const std::string text = std::string(WAFERMILL_VERSION) + "|" + config.features.to_string() +
                           "|" + backend_name;
  h.add_bytes(text.data(), text.size());
  h.add(config.block_size);
  h.add(index.n_sensors);
  h.add(index.n_steps);
  h.add(index.has_steps ? 1 : 0);
  h.add(index.value_type == format::ValueType::float32 ? 4 : 8);
  return h.finish();
}

std::uint64_t block_key(std::uint64_t digest, std::uint64_t first_wafer,
                        std::span<const std::uint64_t> wafer_hashes) {
  Hash64 h(5);
  h.add(digest);
  h.add(first_wafer);
  h.add(wafer_hashes.size());
  for (std::uint64_t w : wafer_hashes) h.add(w);
  return h.finish();
}

}  // namespace wafermill::job
