/// @file trace_index.hpp
/// @brief The index of a "wafermill traces v1" file (docs/FORMAT.md): shapes, types, wafer
/// offsets and optional metadata, read and validated without touching the samples.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace wafermill::format {

namespace h5 {
class File;
}

/// @brief Element type of /traces/values.
enum class ValueType : std::uint8_t { float32, float64 };

/// @brief A 1-D dataset under /wafers/ that is copied to the output.
struct WaferField {
  std::string name;        ///< dataset name under /wafers/
  bool is_string = false;  ///< strings are copied as variable-length UTF-8
};

/// @brief The values of a file's /wafers fields, read with its index when asked
/// (read_trace_index(path, file, true): the input checks' children, so that rank 0 need not
/// open every file of a night again to copy them into the output; input_wafers.hpp).
struct WaferFieldValues {
  enum class Kind : std::uint8_t { strings, i64, u64, f64 };
  std::string name;
  Kind kind = Kind::strings;
  std::vector<std::string> strings;  ///< Kind::strings
  /// The numbers, widened to the kind's 8-byte type (exact for every integer and for float32
  /// and float64), as bits.
  std::vector<std::uint64_t> words;

  /// @brief Flat encoding of a file's fields (native byte order: between processes of one job).
  static std::string encode(const std::vector<WaferFieldValues>& fields);
  /// @brief Inverse of encode(). @throws std::runtime_error on a malformed buffer.
  static std::vector<WaferFieldValues> decode(const std::string& bytes);
};

/// @brief One input file of an index over several files (docs/FORMAT.md "Several input
/// files"): where its wafers and rows sit in the job's numbering and how its columns map onto
/// the job's sensors.
/// @brief "Not stored as the native array": see TraceIndex::values_at.
inline constexpr std::uint64_t kNotInPlace = ~std::uint64_t{0};

struct TraceSource {
  std::string path;
  std::uint64_t file_size = 0;
  std::uint64_t first_wafer = 0;  ///< the job's number of the file's wafer 0
  std::uint64_t n_wafers = 0;
  std::uint64_t first_row = 0;  ///< the job's row of the file's row 0
  std::uint64_t n_rows = 0;     ///< rows of the file's /traces/values
  std::uint64_t n_sensors = 0;  ///< columns of the file's /traces/values
  ValueType value_type = ValueType::float32;
  bool values_filtered = false;
  std::uint64_t values_chunk_rows = 0;
  std::uint64_t values_chunk_cols = 0;
  bool has_steps = false;
  std::uint32_t n_steps = 0;
  std::uint64_t values_at = kNotInPlace;  ///< TraceIndex::values_at of the file
  std::uint64_t steps_at = kNotInPlace;   ///< TraceIndex::steps_at of the file
  /// The file's column of each of the job's sensors, -1 where the file lacks the sensor; empty
  /// when the file's columns are the job's, in order.
  std::vector<std::int64_t> columns;
  /// Bytes of one row of the file's /traces/values.
  std::uint64_t row_bytes() const { return n_sensors * (value_type == ValueType::float32 ? 4 : 8); }
};

/// @brief Everything rank 0 reads before partitioning.
struct TraceIndex {
  std::string path;             ///< the file as given
  std::uint64_t file_size = 0;  ///< bytes on disk
  std::uint64_t n_wafers = 0;
  std::uint64_t n_samples = 0;  ///< rows of /traces/values
  std::uint64_t n_sensors = 0;  ///< columns of /traces/values
  ValueType value_type = ValueType::float32;
  bool values_chunked = false;
  bool values_filtered = false;         ///< gzip/shuffle/fletcher32 present
  std::uint64_t values_chunk_rows = 0;  ///< rows of one chunk of /traces/values (0: contiguous)
  std::uint64_t values_chunk_cols = 0;  ///< columns of one chunk of /traces/values (0: contiguous)
  std::vector<std::uint64_t> offsets;   ///< n_wafers + 1 row offsets
  bool has_steps = false;
  std::uint32_t n_steps = 0;  ///< 1 + largest step value (0 without steps)
  /// N > 0: the steps are not read but N time windows of each wafer (use_time_windows(): row i
  /// of a wafer of n rows is in window floor(i * N / n)); 0: the file's own (or none).
  std::uint32_t time_windows = 0;
  /// Where the bytes of /traces/values (of /traces/step, as int32) lie in the file as the
  /// native row-major array, found when the index is read, or kNotInPlace: a reader then maps
  /// them without opening the file with HDF5 (trace_reader.hpp). One file's only (kNotInPlace
  /// for an index of several files: see sources).
  std::uint64_t values_at = kNotInPlace;
  std::uint64_t steps_at = kNotInPlace;
  std::vector<std::string> sensor_names;  ///< from the attribute, else "sensor_<i>"
  std::vector<WaferField> wafer_fields;   ///< /wafers/* datasets of length n_wafers
  /// /wafers/label when the file has it as numbers: 1 where the label is non-zero (read with the
  /// index, so that the scoring pass reads no file for it).
  bool has_labels = false;
  std::vector<std::uint8_t> labels;
  /// The /wafers fields' values: read_trace_index(path, file, true) only, when every field is
  /// strings or numbers of at most 8 bytes (else empty); not part of serialize().
  std::vector<WaferFieldValues> field_values;
  /// With several input files, one entry per file in the job's order (the fields above then
  /// describe the job: rows and wafers of every file, the union of the sensors, float64 when
  /// the files' types differ). Empty for one file: the index is its own source.
  std::vector<TraceSource> sources;

  /// @brief Bytes of one row of /traces/values in the file's type.
  std::uint64_t row_bytes() const { return n_sensors * (value_type == ValueType::float32 ? 4 : 8); }
  /// @brief Samples of wafer w (rows).
  std::uint64_t wafer_rows(std::uint64_t w) const { return offsets[w + 1] - offsets[w]; }

  /// @brief Files of the index (1 for a single-file index).
  std::size_t n_files() const { return sources.empty() ? 1 : sources.size(); }
  /// @brief The files of the index: `sources`, or one describing a single-file index.
  std::vector<TraceSource> files() const;
  /// @brief The file holding wafer w (0 for a single-file index).
  std::size_t source_of_wafer(std::uint64_t w) const;
  /// @brief One past the last wafer of the file holding wafer w.
  std::uint64_t source_end_wafer(std::uint64_t w) const;
  /// @brief The first wafer of every file, in order (just 0 for a single file).
  std::vector<std::uint64_t> source_first_wafers() const;
  /// @brief "FILE: /traces/values wafer I" with the wafer's own file and its index there.
  std::string wafer_where(std::uint64_t w) const;
  /// @brief The file holding wafer w and w's index in it.
  std::pair<const std::string*, std::uint64_t> wafer_source(std::uint64_t w) const;

  /// @brief Flat byte encoding, for broadcasting the index to other ranks.
  std::vector<char> serialize() const;
  /// @brief Inverse of serialize(). @throws std::runtime_error on a malformed buffer.
  static TraceIndex deserialize(const std::vector<char>& bytes);
};

/// @brief Largest /traces/step value scanned per read when the file has no n_steps attribute.
inline constexpr std::uint64_t kStepScanRows = 1U << 22;

/// @brief Largest accepted n_steps: the output holds W*K*S*F by-step features, so K is
/// bounded to keep a damaged step value from sizing an absurd output.
inline constexpr std::uint32_t kMaxSteps = 4096;

/// @brief `run --time-windows N` / `fit --time-windows N` (docs/MONITORING.md "Time windows"):
/// the index of traces that record no recipe steps is given N steps, each wafer's samples split
/// into N consecutive windows of nearly equal length (row i of n in window floor(i * N / n), as
/// `wafermill import --time-windows` writes them); the readers then fill the steps from the
/// offsets. N == 0 leaves the index as it is.
/// @throws UsageError when N > kMaxSteps; InputError naming the file when it has /traces/step.
void use_time_windows(TraceIndex& index, std::uint32_t n);

/// @brief Window of row `i` of a wafer of `n` rows among `windows`: floor(i * windows / n).
inline std::int32_t time_window_of(std::uint64_t i, std::uint64_t n, std::uint32_t windows) {
  return static_cast<std::int32_t>(i * windows / n);  // i < 2^40 rows, windows <= 2^12
}

/// @brief Largest accepted chunk of any dataset (the reader keeps a row of chunks cached).
inline constexpr std::uint64_t kMaxChunkBytes = 256ULL << 20;

/// @brief Largest accepted sensor_names attribute.
inline constexpr std::uint64_t kMaxAttributeBytes = 16ULL << 20;

/// @brief Opens `path` read-only and reads and validates its index. Reads /traces/offsets
/// whole (8 bytes per wafer) and, only when /traces/step lacks an `n_steps` attribute,
/// scans the steps in bounded chunks to find and check their range.
/// @throws InputError naming the file, dataset and index of the first problem.
TraceIndex read_trace_index(const std::string& path);

/// @brief read_trace_index on `file`, `path` already open (probe_contents' file): the same
/// checks and result without opening it again; with `field_values`, the /wafers fields' values
/// too (TraceIndex::field_values).
TraceIndex read_trace_index(const std::string& path, const h5::File& file,
                            bool field_values = false);

/// @brief One index over several files' indexes, in the given order (docs/FORMAT.md "Several
/// input files"): wafers and rows numbered globally, the sensors the union of the files'
/// `sensor_names` in order of first appearance (a file lacking a sensor reads it as NaN,
/// invalid), float32 when every file is float32 and float64 otherwise, steps when any file has
/// them (a file without steps is all step 0), the /wafers fields that every file holds with the
/// same kind. One file gives that file's index unchanged. `display` names the set in messages.
/// @throws InputError when `files` is empty or two files share a path.
TraceIndex merge_trace_indexes(std::vector<TraceIndex> files, const std::string& display);

/// @brief Checks `path` against the format and returns every problem found (empty: valid).
/// Never throws for bad input; each message names the file, dataset and index.
std::vector<std::string> validate_trace_file(const std::string& path);

}  // namespace wafermill::format
