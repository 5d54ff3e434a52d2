// Imports of small synthetic inputs, read back through format/: the layouts, text variants
// (CRLF, headers, delimiters, missing tokens), batching, and malformed input that must be
// reported with file and line and leave no output behind.
#include <gtest/gtest.h>

#include <cmath>

#include "imported_file.hpp"
#include "wafermill/error.hpp"
#include "wafermill/import/importer.hpp"

namespace wafermill::import {
namespace {

using testing::read_back;
using testing::ScratchDir;

ImportOptions rows_options(const ScratchDir& dir, std::vector<std::string> inputs) {
  ImportOptions o;
  o.layout = Layout::sample_per_row;
  o.inputs = std::move(inputs);
  o.output = dir.file("out.h5");
  return o;
}

/// Runs the import expecting InputError; returns its message and checks no file was left.
std::string import_error(const ImportOptions& o, const ScratchDir& dir) {
  const auto before = dir.entries();
  try {
    import_traces(o);
  } catch (const InputError& e) {
    EXPECT_EQ(dir.entries(), before) << "an output or temporary file was left behind";
    EXPECT_FALSE(std::filesystem::exists(o.output));
    return e.what();
  }
  ADD_FAILURE() << "no InputError";
  return {};
}

TEST(ImportRows, SamplePerRowWithLabelsFileAndMissing) {
  ScratchDir dir("sample_rows");
  const auto data = dir.write("d.txt", "1.5 NaN 3\n4 5 NaN\n7 8 9\n");
  const auto labels = dir.write(
      "l.txt",
      "-1 \"19/07/2008 11:55:00\"\n1 \"20/07/2008 00:00:01\"\n-1 \"21/07/2008 10:00:00\"\n");
  auto o = rows_options(dir, {data});
  o.labels_file = labels;
  o.label_map = LabelMap::parse("-1=0,1=1");
  const ImportSummary s = import_traces(o);
  EXPECT_EQ(s.n_wafers, 3u);
  EXPECT_EQ(s.n_missing, 2u);
  EXPECT_EQ(s.n_bad, 1u);
  const auto r = read_back(o.output);
  EXPECT_EQ(r.index.n_wafers, 3u);
  EXPECT_EQ(r.index.n_sensors, 3u);
  EXPECT_EQ(r.index.offsets, (std::vector<std::uint64_t>{0, 1, 2, 3}));
  EXPECT_EQ(r.index.value_type, format::ValueType::float64);
  EXPECT_EQ(r.at(0, 0), 1.5);
  EXPECT_TRUE(std::isnan(r.at(0, 1)));
  EXPECT_TRUE(std::isnan(r.at(1, 2)));
  EXPECT_EQ(r.at(2, 2), 9.0);
  EXPECT_EQ(*r.labels, (std::vector<std::uint8_t>{0, 1, 0}));
  EXPECT_EQ(testing::read_wafer_ints(o.output, "timestamp"),
            (std::vector<std::int64_t>{1216468500, 1216512001, 1216634400}));
  EXPECT_EQ(testing::read_wafer_ints(o.output, "source_line"),
            (std::vector<std::int64_t>{1, 2, 3}));
}

TEST(ImportRows, TimestampsAsStrings) {
  ScratchDir dir("ts_strings");
  auto o = rows_options(dir, {dir.write("d.txt", "1\n2\n")});
  o.labels_file = dir.write("l.txt", "0 2008-07-19 11:55\n1 \"2008-07-20 00:00\"\n");
  o.timestamp_type = TimestampType::string;
  import_traces(o);
  EXPECT_EQ(testing::read_wafer_strings(o.output, "timestamp"),
            (std::vector<std::string>{"2008-07-19 11:55", "2008-07-20 00:00"}));
}

TEST(ImportRows, TracePerRowWithLabelColumn) {
  ScratchDir dir("trace_rows");
  auto o = rows_options(
      dir, {dir.write("w.tsv", "1\t0.5\t0.25\t-1\n-1\t2\t3\t4\n1.0000000e+00\t7\t8\t9\n")});
  o.layout = Layout::trace_per_row;
  o.label_column = true;
  o.label_map = LabelMap::parse("1=0,-1=1");
  import_traces(o);
  const auto r = read_back(o.output);
  EXPECT_EQ(r.index.n_sensors, 1u);
  EXPECT_EQ(r.index.offsets, (std::vector<std::uint64_t>{0, 3, 6, 9}));
  EXPECT_EQ(r.values, (std::vector<double>{0.5, 0.25, -1, 2, 3, 4, 7, 8, 9}));
  EXPECT_EQ(*r.labels, (std::vector<std::uint8_t>{0, 1, 0}));
}

TEST(ImportRows, RaggedTracesOnlyWhenAllowed) {
  ScratchDir dir("ragged_traces");
  auto o = rows_options(dir, {dir.write("w.tsv", "1\t1\t2\t3\n-1\t4\n1\t5\t6\n")});
  o.layout = Layout::trace_per_row;
  o.label_column = true;
  o.label_map = LabelMap::parse("1=0,-1=1");
  const std::string msg = import_error(o, dir);
  EXPECT_NE(msg.find("w.tsv:2: ragged row: 1 samples, expected 3"), std::string::npos) << msg;
  o.ragged = true;
  import_traces(o);
  EXPECT_EQ(read_back(o.output).index.offsets, (std::vector<std::uint64_t>{0, 3, 4, 6}));
}

/// /traces/step of an imported file, read through format/ (empty when it has none).
std::vector<std::int32_t> read_steps(const std::string& path) {
  const auto index = format::read_trace_index(path);
  if (!index.has_steps) return {};
  std::vector<std::int32_t> steps(index.n_samples);
  std::vector<double> values(index.n_samples * index.n_sensors);
  format::TraceReader reader(index, format::IoDriver::posix, MPI_COMM_NULL);
  reader.read_rows(0, index.n_samples, values.data(), steps);
  return steps;
}

TEST(ImportRows, TimeWindowsAreWrittenAsRecipeSteps) {
  ScratchDir dir("time_windows");
  // Traces of 5, 1, 2 and 6 samples; 3 windows: row i of n in window floor(3i / n).
  auto o = rows_options(dir, {dir.write("w.tsv",
                                        "1\t1\t2\t3\t4\t5\n1\t6\n1\t7\t8\n"
                                        "-1\t1\t2\t3\t4\t5\t6\n")});
  o.layout = Layout::trace_per_row;
  o.label_column = true;
  o.ragged = true;
  o.label_map = LabelMap::parse("1=0,-1=1");
  import_traces(o);
  EXPECT_FALSE(read_back(o.output).index.has_steps);  // none unless asked
  o.force = true;
  o.time_windows = 3;
  o.buffer_bytes = 16;  // rows written two at a time, steps at the end of each wafer
  import_traces(o);
  const auto r = read_back(o.output);
  EXPECT_TRUE(r.index.has_steps);
  EXPECT_EQ(r.index.n_steps, 3u);
  EXPECT_EQ(read_steps(o.output),
            (std::vector<std::int32_t>{0, 0, 1, 1, 2, 0, 0, 1, 0, 0, 1, 1, 2, 2}));
  EXPECT_EQ(r.values[13], 6.0);
  EXPECT_TRUE(format::validate_trace_file(o.output).empty());

  o.time_windows = format::kMaxSteps + 1;
  EXPECT_THROW(o.validate(), UsageError);
}

TEST(ImportRows, CrlfHeaderAndDelimiterVariantsGiveTheSameFile) {
  ScratchDir dir("variants");
  const std::vector<std::string> texts = {
      "1,2,3\n4,,6\n",                         // comma, empty field missing
      "1,2,3\r\n4,,6\r\n",                     // CRLF
      "a,b,c\r\n1,2,3\r\n\r\n4,,6\r\n\r\n",    // header row, blank lines
      "\"a\",\"b\",\"c\"\n1, 2 ,3\n4,NA,6\n",  // quoted header, blanks around values
      "1|2|3\n4|?|6\n",                        // custom delimiter (given below)
      "1 2 3\n4 NaN 6",                        // whitespace, no final line end
  };
  for (std::size_t i = 0; i < texts.size(); ++i) {
    auto o = rows_options(dir, {dir.write("in" + std::to_string(i) + ".txt", texts[i])});
    if (i == 4) o.text.delimiter = '|';
    o.output = dir.file("out" + std::to_string(i) + ".h5");
    import_traces(o);
    const auto r = read_back(o.output);
    ASSERT_EQ(r.values.size(), 6u) << texts[i];
    EXPECT_EQ(r.at(0, 0), 1.0);
    EXPECT_EQ(r.at(0, 2), 3.0);
    EXPECT_TRUE(std::isnan(r.at(1, 1))) << texts[i];
    EXPECT_EQ(r.at(1, 2), 6.0);
    const std::vector<std::string> names =
        i == 2 || i == 3 ? std::vector<std::string>{"a", "b", "c"}
                         : std::vector<std::string>{"sensor_0", "sensor_1", "sensor_2"};
    EXPECT_EQ(r.index.sensor_names, names) << texts[i];
  }
}

TEST(ImportRows, HeaderModes) {
  ScratchDir dir("header_modes");
  auto o = rows_options(dir, {dir.write("h.csv", "x,y\n1,2\n")});
  o.text.header = HeaderMode::absent;
  EXPECT_NE(import_error(o, dir).find("h.csv:1: field 1: \"x\" is not a number"),
            std::string::npos);
  o.text.header = HeaderMode::present;
  import_traces(o);
  EXPECT_EQ(read_back(o.output).index.n_wafers, 1u);
}

TEST(ImportRows, CustomMissingTokens) {
  ScratchDir dir("missing_tokens");
  auto o = rows_options(dir, {dir.write("m.csv", "1,-999\n?,2\n")});
  o.text.missing_tokens = parse_missing_tokens("-999");
  EXPECT_NE(import_error(o, dir).find(
                "m.csv:2: field 1: \"?\" is not a number (missing-value tokens: -999"),
            std::string::npos);
  o.text.missing_tokens = parse_missing_tokens("-999,?");
  const auto s = import_traces(o);
  EXPECT_EQ(s.n_missing, 2u);
}

TEST(ImportRows, SeveralInputFilesAreConcatenated) {
  ScratchDir dir("several");
  auto o = rows_options(dir, {dir.write("a.txt", "1 2\n3 4\n"), dir.write("b.txt", "5 6\n")});
  import_traces(o);
  const auto r = read_back(o.output);
  EXPECT_EQ(r.index.n_wafers, 3u);
  EXPECT_EQ(r.at(2, 1), 6.0);
  EXPECT_EQ(testing::read_wafer_ints(o.output, "source_file_index"),
            (std::vector<std::int64_t>{0, 0, 1}));
  EXPECT_EQ(testing::read_wafer_ints(o.output, "source_line"),
            (std::vector<std::int64_t>{1, 2, 1}));
}

TEST(ImportRows, TinyBufferAndFloat32GiveTheSameValues) {
  // Many batches (a buffer of about one row) must write exactly what one batch writes.
  ScratchDir dir("batches");
  std::string text;
  for (int w = 0; w < 500; ++w) {
    text += std::to_string(w % 2 ? 1 : -1);
    for (int k = 0; k < 37; ++k) {
      text += '\t';
      text += std::to_string(w * 0.5 + k * 0.25);
    }
    text += "\n";
  }
  auto o = rows_options(dir, {dir.write("big.tsv", text)});
  o.layout = Layout::trace_per_row;
  o.label_column = true;
  o.label_map = LabelMap::parse("1=0,-1=1");
  import_traces(o);
  const auto one = read_back(o.output);
  o.output = dir.file("small_buffer.h5");
  o.buffer_bytes = 8;
  import_traces(o);
  const auto many = read_back(o.output);
  EXPECT_EQ(one.values, many.values);
  EXPECT_EQ(one.index.offsets, many.index.offsets);
  EXPECT_EQ(*one.labels, *many.labels);
  EXPECT_EQ(one.at(499 * 37 + 36, 0), 499 * 0.5 + 36 * 0.25);
  o.output = dir.file("f32.h5");
  o.float32 = true;
  o.gzip_level = 4;
  import_traces(o);
  const auto f32 = read_back(o.output);
  EXPECT_EQ(f32.index.value_type, format::ValueType::float32);
  EXPECT_TRUE(f32.index.values_filtered);
  EXPECT_EQ(f32.values, one.values);  // quarters are exact in float32
}

// ---------------------------------------------------------------------------------------------
// Malformed input: InputError naming file and line, no output left behind.

TEST(ImportMalformed, BadNumberNamesFileLineAndField) {
  ScratchDir dir("bad_number");
  auto o = rows_options(dir, {dir.write("d.txt", "1 2 3\r\n4 5 6\r\n7 x8 9\r\n")});
  const std::string msg = import_error(o, dir);
  EXPECT_NE(msg.find("d.txt:3: field 2: \"x8\" is not a number"), std::string::npos) << msg;
}

TEST(ImportMalformed, RaggedRow) {
  ScratchDir dir("ragged");
  auto o = rows_options(dir, {dir.write("d.txt", "1 2 3\n4 5 6\n\n7 8\n")});
  const std::string msg = import_error(o, dir);
  EXPECT_NE(msg.find("d.txt:4: ragged row: 2 values, expected 3 as on "), std::string::npos) << msg;
  EXPECT_NE(msg.find("d.txt:1"), std::string::npos) << msg;
}

TEST(ImportMalformed, LabelsFileTooShortOrTooLong) {
  ScratchDir dir("labels_count");
  auto o = rows_options(dir, {dir.write("d.txt", "1\n2\n3\n")});
  o.labels_file = dir.write("short.txt", "0\n1\n");
  std::string msg = import_error(o, dir);
  EXPECT_NE(msg.find("short.txt: has 2 label rows, but the data has more wafers (" +
                     dir.file("d.txt") + ":3 is wafer 3)"),
            std::string::npos)
      << msg;
  o.labels_file = dir.write("long.txt", "0\n1\n0\n1\n");
  msg = import_error(o, dir);
  EXPECT_NE(msg.find("long.txt:4: label row 4 has no wafer: the data has only 3 wafers"),
            std::string::npos)
      << msg;
}

TEST(ImportMalformed, BadLabelsAndTimestamps) {
  ScratchDir dir("bad_labels");
  auto o = rows_options(dir, {dir.write("d.txt", "1\n2\n")});
  o.labels_file = dir.write("l1.txt", "0\n7\n");
  EXPECT_NE(import_error(o, dir).find("l1.txt:2: class \"7\" is not in the label map 0=0,1=1"),
            std::string::npos);
  o.labels_file = dir.write("l2.txt", "0 \"19/07/2008 11:55:00\"\n1 \"31/02/2008 00:00:00\"\n");
  EXPECT_NE(import_error(o, dir).find("l2.txt:2: timestamp \"31/02/2008 00:00:00\" does not match"),
            std::string::npos);
  o.labels_file = dir.write("l3.txt", "0 \"19/07/2008 11:55:00\"\n1\n");
  EXPECT_NE(import_error(o, dir).find("l3.txt:2: has no timestamp but earlier rows have one"),
            std::string::npos);
  auto u = rows_options(dir, {dir.write("u.tsv", "1\t2\n3\t4\n")});
  u.layout = Layout::trace_per_row;
  u.label_column = true;
  u.label_map = LabelMap::parse("1=0,-1=1");
  EXPECT_NE(import_error(u, dir).find("u.tsv:2: class \"3\" is not in the label map 1=0,-1=1"),
            std::string::npos);
}

TEST(ImportMalformed, EmptyFilesAndHeaderOnly) {
  ScratchDir dir("empty");
  auto o = rows_options(dir, {dir.write("e.txt", "")});
  EXPECT_NE(import_error(o, dir).find("e.txt: empty file (no rows)"), std::string::npos);
  o.inputs = {dir.write("blank.txt", "\r\n  \n")};
  EXPECT_NE(import_error(o, dir).find("blank.txt: empty file"), std::string::npos);
  o.inputs = {dir.write("h.csv", "a,b\n")};
  EXPECT_NE(import_error(o, dir).find("h.csv: no data rows (only a header)"), std::string::npos);
  o.inputs = {dir.file("absent.txt")};
  EXPECT_NE(import_error(o, dir).find("absent.txt: no such file"), std::string::npos);
}

TEST(ImportMalformed, UnbalancedQuote) {
  ScratchDir dir("quote");
  auto o = rows_options(dir, {dir.write("q.csv", "1,2\n\"3,4\n")});
  EXPECT_NE(import_error(o, dir).find("q.csv:2: unbalanced quote"), std::string::npos);
}

TEST(ImportMalformed, ExistingOutputNeedsForce) {
  ScratchDir dir("force");
  auto o = rows_options(dir, {dir.write("d.txt", "1 2\n")});
  import_traces(o);
  EXPECT_THROW(import_traces(o), UsageError);
  o.force = true;
  EXPECT_NO_THROW(import_traces(o));
  // A failed import with --force keeps the existing output untouched.
  o.inputs = {dir.write("bad.txt", "1 2\n3\n")};
  EXPECT_THROW(import_traces(o), InputError);
  EXPECT_EQ(read_back(o.output).index.n_wafers, 1u);
}

TEST(ImportOptionsTest, ConflictsAreUsageErrors) {
  ImportOptions o;
  o.inputs = {"x"};
  o.output = "y";
  o.label_column = true;
  o.labels_file = "z";
  EXPECT_THROW(o.validate(), UsageError);
  o.labels_file.clear();
  o.layout = Layout::file_per_wafer;
  EXPECT_THROW(o.validate(), UsageError);
  o.label_column = false;
  o.ragged = true;
  EXPECT_THROW(o.validate(), UsageError);
  EXPECT_THROW(preset("nope"), UsageError);
  EXPECT_THROW(parse_layout("rows"), UsageError);
}

// ---------------------------------------------------------------------------------------------
// One file per wafer.

TEST(ImportFiles, DirectoryOfCsvFilesWithHeaders) {
  ScratchDir dir("per_wafer");
  const std::string header = "pressure,temperature\r\n";
  dir.write("wafers/w02.csv", header + "1,10\r\n2,20\r\n3,30\r\n");
  dir.write("wafers/w01.csv", header + "0.5,NaN\r\n");
  dir.write("wafers/w03.csv", header);  // a wafer without samples
  dir.write("wafers/.hidden", "not a wafer");
  ImportOptions o;
  o.layout = Layout::file_per_wafer;
  o.inputs = {dir.file("wafers")};
  o.output = dir.file("out.h5");
  o.labels_file = dir.write("labels.txt", "0\n1\n0\n");
  const auto s = import_traces(o);
  EXPECT_EQ(s.n_files, 3u);
  const auto r = read_back(o.output);
  EXPECT_EQ(r.index.n_wafers, 3u);
  EXPECT_EQ(r.index.offsets, (std::vector<std::uint64_t>{0, 1, 4, 4}));  // name order
  EXPECT_EQ(r.index.sensor_names, (std::vector<std::string>{"pressure", "temperature"}));
  EXPECT_EQ(r.at(0, 0), 0.5);
  EXPECT_TRUE(std::isnan(r.at(0, 1)));
  EXPECT_EQ(r.at(3, 1), 30.0);
  EXPECT_EQ(*r.labels, (std::vector<std::uint8_t>{0, 1, 0}));
  EXPECT_EQ(testing::read_wafer_strings(o.output, "source_file"),
            (std::vector<std::string>{"w01.csv", "w02.csv", "w03.csv"}));
}

TEST(ImportFiles, FilesMustAgreeOnColumns) {
  ScratchDir dir("per_wafer_bad");
  ImportOptions o;
  o.layout = Layout::file_per_wafer;
  o.output = dir.file("out.h5");
  o.inputs = {dir.write("a.tsv", "a\tb\n1\t2\n"), dir.write("b.tsv", "a\tc\n1\t2\n")};
  EXPECT_NE(import_error(o, dir).find("b.tsv:1: header names differ"), std::string::npos);
  o.inputs = {dir.write("c.tsv", "1\t2\n"), dir.write("d.tsv", "1\t2\n3\t4\t5\n")};
  EXPECT_NE(import_error(o, dir).find("d.tsv:2: ragged row: 3 values, expected 2 as on"),
            std::string::npos);
  o.inputs = {dir.write("e.tsv", "1\t2\n"), dir.write("f.tsv", "")};
  EXPECT_NE(import_error(o, dir).find("f.tsv: empty file"), std::string::npos);
}

// Tennessee Eastman: d00.dat is stored transposed (52 x 500) among files of 480 x 52. Here
// 3 x 5 among files of 4 x 3: the error names the transposed file, not the next one.
TEST(ImportFiles, TransposedFileIsNamedAndReadWithTranspose) {
  ScratchDir dir("per_wafer_transposed");
  ImportOptions o;
  o.layout = Layout::file_per_wafer;
  o.output = dir.file("out.h5");
  o.inputs = {dir.write("d00.dat", "1 2 3 4 5\n10 20 30 40 50\n100 200 300 400 500\n"),
              dir.write("d01.dat", "1 2 3\n4 5 6\n7 8 9\n10 11 12\n"),
              dir.write("d02.dat", "1 2 3\n4 5 6\n7 8 9\n10 11 12\n")};
  const std::string message = import_error(o, dir);
  EXPECT_NE(message.find("d00.dat: 3 rows of 5 values, while 2 other files have 3 columns: "
                         "this file looks stored transposed"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("--transpose-file d00.dat"), std::string::npos) << message;
  EXPECT_EQ(message.find("d01.dat"), std::string::npos) << message;

  o.transpose_files = {"d00.dat"};
  const ImportSummary s = import_traces(o);
  EXPECT_TRUE(s.notes.empty());
  const auto r = read_back(o.output);
  EXPECT_EQ(r.index.n_sensors, 3u);
  EXPECT_EQ(r.index.offsets, (std::vector<std::uint64_t>{0, 5, 9, 13}));
  EXPECT_EQ(r.at(0, 0), 1.0);  // sample 0 of d00: column 0
  EXPECT_EQ(r.at(0, 2), 100.0);
  EXPECT_EQ(r.at(4, 1), 50.0);  // sample 4 of d00: column 4
  EXPECT_EQ(r.at(5, 0), 1.0);   // d01 as written
  EXPECT_EQ(r.at(8, 2), 12.0);

  // A transposed file whose row count is not the others' column count.
  o.output = dir.file("out2.h5");
  o.transpose_files = {"d00.dat", dir.write("d03.dat", "1 2\n3 4\n")};
  o.inputs.push_back(dir.file("d03.dat"));
  EXPECT_NE(import_error(o, dir).find("d03.dat: transposed file has 2 rows (sensors), expected 3"),
            std::string::npos);
}

TEST(ImportFiles, LoneWideFileGetsANoteAndTransposeAllFlipsIt) {
  ScratchDir dir("per_wafer_wide");
  ImportOptions o;
  o.layout = Layout::file_per_wafer;
  o.output = dir.file("out.h5");
  o.inputs = {dir.write("d00.dat", "1 2 3 4 5\n10 20 30 40 50\n")};
  const ImportSummary wide = import_traces(o);
  ASSERT_EQ(wide.notes.size(), 1u);
  EXPECT_NE(wide.notes[0].find("d00.dat: 2 rows of 5 values read as samples x sensors"),
            std::string::npos)
      << wide.notes[0];
  EXPECT_NE(wide.notes[0].find("--transpose"), std::string::npos);
  o.force = true;
  o.transpose_all = true;
  const ImportSummary s = import_traces(o);
  EXPECT_TRUE(s.notes.empty());
  const auto r = read_back(o.output);
  EXPECT_EQ(r.index.n_sensors, 2u);
  EXPECT_EQ(r.index.offsets, (std::vector<std::uint64_t>{0, 5}));
  EXPECT_EQ(r.at(3, 1), 40.0);
}

TEST(ImportOptionsTest, TransposeNeedsFilesPerWaferAndAnInputName) {
  ScratchDir dir("transpose_options");
  ImportOptions o = rows_options(dir, {dir.write("a.txt", "1 2\n")});
  o.transpose_all = true;
  EXPECT_THROW(o.validate(), UsageError);
  o.layout = Layout::file_per_wafer;
  o.transpose_all = false;
  o.transpose_files = {"b.txt"};
  EXPECT_THROW(import_traces(o), UsageError);
  EXPECT_FALSE(std::filesystem::exists(o.output));
}

}  // namespace
}  // namespace wafermill::import
