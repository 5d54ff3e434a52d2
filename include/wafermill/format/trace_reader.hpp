/// @file trace_reader.hpp
/// @brief Reads rows of /traces/values (and /traces/step) by hyperslab.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <mpi.h>

#include "wafermill/format/trace_index.hpp"

namespace wafermill::format {

/// @brief How the input file is opened for reading.
/// posix: every rank opens the file read-only on its own (sec2 driver).
/// mpio: the ranks of a communicator open it together through MPI-IO (collective open,
/// independent reads, since ranks read different amounts). docs/BENCHMARKS.md measures both.
enum class IoDriver : std::uint8_t { posix, mpio };

/// @brief "posix" or "mpio". @throws UsageError otherwise.
IoDriver parse_io_driver(std::string_view name);
/// @brief The name of a driver.
std::string_view to_string(IoDriver d);

/// @brief How the posix driver reads a /traces/values stored as the machine's native array
/// (contiguous or chunks of whole rows in order, unfiltered, aligned; the index finds it), set
/// by the environment variable WAFERMILL_READ_IN_PLACE:
/// read (default, unset or any other value): pread of the rows' bytes into the caller's buffer,
/// no HDF5 call; map ("map"): the worker maps the rows (map_rows) and computes from the page
/// cache; hdf5 ("0" or "hdf5"): hyperslab reads through HDF5, as for any other storage.
/// The bytes are the same either way (docs/BENCHMARKS.md "Item 3" measures what each costs).
enum class NativeReads : std::uint8_t { read, map, hdf5 };
/// @brief The mode WAFERMILL_READ_IN_PLACE selects.
NativeReads native_reads();

/// @brief An open trace file, or the files of an index over several (trace_index.hpp
/// merge_trace_indexes): reads rows in the job's numbering, columns and value type. One file
/// reads in its own type without conversion. Several files are opened when first read (at
/// most 64 at once, the least recently used closed first); rows of a file that lacks a sensor
/// read NaN there, a float32 file in a float64 job is widened, a file without steps reads step
/// 0; a read that spans files is stitched. An index with time windows (use_time_windows) reads
/// each row's window as its step.
class TraceReader {
 public:
  /// @brief Opens index.path read-only (several files: each when first read). For
  /// IoDriver::mpio and one file this is collective over `comm` (several files open over
  /// MPI_COMM_SELF); for posix `comm` is unused (MPI_COMM_NULL is fine, and MPI need not be
  /// initialised).
  /// @throws InputError if the file cannot be opened as the index describes.
  TraceReader(const TraceIndex& index, IoDriver driver, MPI_Comm comm);
  ~TraceReader();
  TraceReader(const TraceReader&) = delete;
  TraceReader& operator=(const TraceReader&) = delete;

  /// @brief Reads rows [first_row, first_row + n_rows) of every sensor into `values`
  /// (row-major, n_rows * n_sensors elements of the file's type) and, when the file has
  /// steps and `steps` is not empty, their steps into `steps` (n_rows entries).
  /// @throws InputError naming file, dataset and row when a step is out of range or the
  /// read fails.
  void read_rows(std::uint64_t first_row, std::uint64_t n_rows, void* values,
                 std::span<std::int32_t> steps);

  /// @brief Reads one sensor column of rows [first_row, first_row + n_rows) into `values`
  /// (n_rows elements of the file's type), and the steps as read_rows does.
  void read_column(std::uint64_t first_row, std::uint64_t n_rows, std::uint64_t sensor,
                   void* values, std::span<std::int32_t> steps);

  /// @brief True when map_rows can read in place: the posix driver, and /traces/values stored
  /// contiguous, allocated, unfiltered, in the file itself and in this machine's byte order.
  bool maps_in_place() const;

  /// @brief Rows [first_row, first_row + n_rows) of every sensor in place: a read-only mapping
  /// of the file holding exactly what read_rows would copy out, valid until the next map_rows
  /// call or the reader's end (one mapping at a time, so memory stays within one chunk), and
  /// the steps as read_rows reads them. Returns nullptr, having read nothing, when the dataset
  /// cannot be mapped (maps_in_place() is false) or the mapping fails: use read_rows then.
  /// @throws InputError as read_rows does, or when the file became shorter than the dataset.
  const void* map_rows(std::uint64_t first_row, std::uint64_t n_rows,
                       std::span<std::int32_t> steps);

  /// @brief Bytes read from /traces/values so far.
  std::uint64_t bytes_read() const;

 private:
  // The reads above from the files, before the steps of an index with time windows are
  // filled in (TraceIndex::time_windows).
  void read_rows_of_files(std::uint64_t first_row, std::uint64_t n_rows, void* values,
                          std::span<std::int32_t> steps);
  void read_column_of_files(std::uint64_t first_row, std::uint64_t n_rows, std::uint64_t sensor,
                            void* values, std::span<std::int32_t> steps);
  const void* map_rows_of_files(std::uint64_t first_row, std::uint64_t n_rows,
                                std::span<std::int32_t> steps);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wafermill::format
