// wafermill import: fab text data (UCR TSV, UCI SECOM, one file per wafer) to wafermill HDF5.
#include <cstdio>

#include "commands.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/import/importer.hpp"

namespace wafermill::cli {

Command make_import_command(int argc, char** argv) {
  po::options_description desc("wafermill import options");
  // No default values here: an option given overrides the preset, one not given keeps it.
  desc.add_options()
    ("input", po::value<std::vector<std::string>>(), "data files (or, for file-per-wafer, one directory)")
    ("output,o", po::value<std::string>()->required(), "HDF5 file to write (wafermill traces v1); written under a temporary name, renamed when complete")
    ("force", po::bool_switch(), "overwrite an existing output")
    ("preset", po::value<std::string>(), "defaults of a known data set: ucr (UCR archive TSV) | secom (UCI SECOM)")
    ("layout", po::value<std::string>(), "trace-per-row (class, then one sensor's samples) | sample-per-row (one sample of every sensor) | file-per-wafer (rows samples, columns sensors); default sample-per-row")
    ("labels", po::value<std::string>(), "labels file: one row per wafer in data order, a class then an optional timestamp")
    ("label-column", po::bool_switch(), "row layouts: the first field of each row is the wafer's class")
    ("label-map", po::value<std::string>(), "class tokens to 0 good / 1 bad, e.g. \"1=0,-1=1\" (default \"0=0,1=1\")")
    ("timestamp-format", po::value<std::string>(), "labels file timestamps, %Y %m %d %H %M %S (default \"%d/%m/%Y %H:%M:%S\", read as UTC)")
    ("timestamp-type", po::value<std::string>(), "unix (int64 seconds since 1970 UTC, default) | string (as written)")
    ("delimiter", po::value<std::string>(), "auto (default) | tab | comma | semicolon | space (runs of blanks) | one character")
    ("missing", po::value<std::string>(), "missing-value tokens, comma-separated; the word empty is an empty field (default \"NaN,nan,NA,?,empty\")")
    ("header", po::value<std::string>(), "auto (default: a first line without numbers) | yes | no")
    ("ragged", po::bool_switch(), "trace-per-row: accept traces of different lengths")
    ("transpose", po::bool_switch(), "file-per-wafer: every file is stored transposed (rows are sensors, columns samples)")
    ("transpose-file", po::value<std::vector<std::string>>()->composing(), "file-per-wafer: this file is stored transposed (repeatable; a path as given or a file name)")
    ("float32", po::bool_switch(), "store float32 samples (default float64, exact for decimal text of up to 15 digits)")
    ("gzip", po::value<int>(), "deflate level 1-9 with shuffle on /traces/values; 0 uncompressed (default)")
    ("buffer-mb", po::value<double>(), "sample rows held in memory before a write, MiB (default 16)")
    ("citation", po::value<std::string>(), "where the data comes from, stored as the attribute source_citation")
    ("time-windows", po::value<long long>(), "split each wafer's samples into N consecutive windows of (nearly) equal length, written as /traces/step: per-window features and models for traces that record no recipe steps (e.g. UCR series); 0 none (default)");
  po::positional_options_description pos;
  pos.add("input", -1);
  bool help = false;
  const po::variables_map vm = parse_options("import", argc, argv, desc, &pos, &help);
  if (help) {
    const std::string text = help_text(
        "import",
        "wafermill import [--preset ucr|secom] [--layout L] [options] --output OUT.h5 INPUT...\n"
        "  e.g. wafermill import --preset ucr Wafer_TRAIN.tsv -o wafer.h5\n"
        "       wafermill import --preset secom --labels secom_labels.data secom.data -o secom.h5",
        desc);
    return {"import", false, [text](MPI_Comm) { std::fputs(text.c_str(), stdout); return 0; }};
  }

  import::ImportOptions o = vm.count("preset") ? import::preset(vm["preset"].as<std::string>())
                                               : import::ImportOptions{};
  auto text = [&](const char* key) { return vm[key].as<std::string>(); };
  if (vm.count("input")) o.inputs = vm["input"].as<std::vector<std::string>>();
  o.output = text("output");
  o.force = vm["force"].as<bool>();
  if (vm.count("layout")) o.layout = import::parse_layout(text("layout"));
  if (vm.count("labels")) o.labels_file = text("labels");
  if (vm["label-column"].as<bool>()) o.label_column = true;
  if (vm.count("label-map")) o.label_map = import::LabelMap::parse(text("label-map"));
  if (vm.count("timestamp-format")) o.timestamp_format = text("timestamp-format");
  if (vm.count("timestamp-type")) {
    const std::string t = text("timestamp-type");
    if (t == "unix") o.timestamp_type = import::TimestampType::unix_seconds;
    else if (t == "string") o.timestamp_type = import::TimestampType::string;
    else throw UsageError("--timestamp-type \"" + t + "\": expected unix or string");
  }
  if (vm.count("delimiter")) o.text.delimiter = import::parse_delimiter(text("delimiter"));
  if (vm.count("missing")) o.text.missing_tokens = import::parse_missing_tokens(text("missing"));
  if (vm.count("header")) {
    const std::string h = text("header");
    if (h == "auto") o.text.header = import::HeaderMode::automatic;
    else if (h == "yes") o.text.header = import::HeaderMode::present;
    else if (h == "no") o.text.header = import::HeaderMode::absent;
    else throw UsageError("--header \"" + h + "\": expected auto, yes or no");
  }
  if (vm["ragged"].as<bool>()) o.ragged = true;
  if (vm["transpose"].as<bool>()) o.transpose_all = true;
  if (vm.count("transpose-file")) o.transpose_files = vm["transpose-file"].as<std::vector<std::string>>();
  if (vm["float32"].as<bool>()) o.float32 = true;
  if (vm.count("gzip")) o.gzip_level = vm["gzip"].as<int>();
  if (vm.count("buffer-mb")) {
    const double mb = vm["buffer-mb"].as<double>();
    if (!(mb > 0)) throw UsageError("--buffer-mb must be positive");
    o.buffer_bytes = static_cast<std::uint64_t>(mb * 1048576.0);
  }
  if (vm.count("citation")) o.citation = text("citation");
  if (vm.count("time-windows")) {
    const long long n = vm["time-windows"].as<long long>();
    if (n < 0 || n > format::kMaxSteps) {
      throw UsageError("--time-windows must be in [0, " + std::to_string(format::kMaxSteps) + "]");
    }
    o.time_windows = static_cast<std::uint32_t>(n);
  }
  o.validate();

  return {"import", false, [o](MPI_Comm) {
            const import::ImportSummary s = import::import_traces(o);
            const double cells = static_cast<double>(s.n_samples) * static_cast<double>(s.n_sensors);
            std::printf("wrote %s: %llu wafers, %llu samples x %llu sensors, %llu missing (%.2f %%)",
                        o.output.c_str(), static_cast<unsigned long long>(s.n_wafers),
                        static_cast<unsigned long long>(s.n_samples),
                        static_cast<unsigned long long>(s.n_sensors),
                        static_cast<unsigned long long>(s.n_missing),
                        cells > 0 ? 100.0 * static_cast<double>(s.n_missing) / cells : 0.0);
            if (s.has_labels) {
              std::printf(", %llu bad / %llu good", static_cast<unsigned long long>(s.n_bad),
                          static_cast<unsigned long long>(s.n_wafers - s.n_bad));
            }
            std::printf(", %.2f MB\n", static_cast<double>(s.output_bytes) / 1e6);
            for (const auto& note : s.notes) std::fprintf(stderr, "note: %s\n", note.c_str());
            return 0;
          }};
}

}  // namespace wafermill::cli
