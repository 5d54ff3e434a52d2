// The small subcommands: generate, validate and the internal sequential baseline.
#include <cstdio>

#include "commands.hpp"
#include "wafermill/error.hpp"
#include "wafermill/format/chunk_advice.hpp"
#include "wafermill/format/image_index.hpp"
#include "wafermill/format/input_list.hpp"
#include "wafermill/format/map_index.hpp"
#include "wafermill/format/picture_reader.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/generate/generator.hpp"
#include "wafermill/generate/maps_images.hpp"
#include "wafermill/job/baseline.hpp"
#include "wafermill/job/input_sandbox.hpp"

namespace wafermill::cli {
namespace {

Command help_command(const std::string& name, std::string text) {
  return {name, false, [text = std::move(text)](MPI_Comm) {
            std::fputs(text.c_str(), stdout);
            return 0;
          }};
}

}  // namespace

Command make_generate_command(int argc, char** argv) {
  generate::GeneratorOptions d;
  po::options_description desc("wafermill generate options");
  desc.add_options()
    ("output,o", po::value<std::string>()->required(), "file to write")
    ("force", po::bool_switch(), "overwrite an existing file")
    ("wafers", po::value<std::uint64_t>()->default_value(d.n_wafers), "number of wafers")
    ("sensors", po::value<std::uint32_t>()->default_value(d.n_sensors), "sensors per sample")
    ("steps", po::value<std::uint32_t>()->default_value(d.n_steps), "recipe steps (0: no /traces/step)")
    ("mean-length", po::value<double>()->default_value(d.mean_length), "mean samples per wafer")
    ("length-sigma", po::value<double>()->default_value(d.length_sigma), "lognormal sigma of trace lengths (skew; 0: equal lengths)")
    ("empty-fraction", po::value<double>()->default_value(d.empty_fraction), "fraction of wafers without samples")
    ("anomaly-fraction", po::value<double>()->default_value(d.anomaly_fraction), "fraction of planted anomalous wafers")
    ("nan-fraction", po::value<double>()->default_value(d.nan_fraction), "fraction of NaN/Inf samples")
    ("anomaly-step", po::value<std::int64_t>()->default_value(d.anomaly_step), "plant every anomaly within this recipe step of its wafer (-1: over the whole wafer)")
    ("drift", po::value<double>()->default_value(d.drift), "tool drift per wafer, in sensor std units (each tool's own direction, reset at maintenance every 500 wafers)")
    ("night", po::value<std::uint64_t>()->default_value(d.night), "night K of a series: wafers K*wafers .. (K+1)*wafers-1 of the fleet's history, so night K continues night K-1's drift (docs/MONITORING.md \"Planted drift\")")
    ("drift-sensor", po::value<std::string>()->default_value(""), "only this sensor (by name) drifts: --drift sigmas per wafer from wafer 0 on, on every tool, no maintenance reset")
    ("step-sensor", po::value<std::string>()->default_value(""), "shift this sensor (by name) by --step-size sigmas from night --step-night on")
    ("step-size", po::value<double>()->default_value(d.step_size), "the step of --step-sensor, in sensor std units")
    ("step-night", po::value<std::uint64_t>()->default_value(d.step_night), "the first night (--night numbering) with the step")
    ("float64", po::bool_switch(), "write float64 samples (default float32)")
    ("gzip", po::value<int>()->default_value(d.gzip_level), "deflate level 1-9 with shuffle; 0 uncompressed")
    ("chunk-rows", po::value<std::uint64_t>()->default_value(d.chunk_rows), "HDF5 chunk rows")
    ("seed", po::value<std::uint64_t>()->default_value(d.seed), "random seed")
    ("target-mb", po::value<double>()->default_value(0.0), "if > 0, choose the wafer count to reach about this many MB of samples")
    ("files", po::value<std::uint64_t>()->default_value(0), "split the same wafers over N files of consecutive wafers, OUT-00000.h5 ... (OUT: --output less .h5), listed in order in the manifest OUT.list (docs/FORMAT.md \"Sets of files\")")
    ("drop-sensor", po::value<std::vector<std::string>>()->composing(), "leave this sensor (by name) out; the other columns are unchanged (repeatable)");
  // --- maps and images (docs/PICTURES.md) ---
  const generate::PictureOptions pd;
  desc.add_options()(
      "maps", po::value<std::uint64_t>()->default_value(0),
      "die maps to write (with --maps or --images, traces only when --wafers is given)")(
      "pattern-fraction", po::value<double>()->default_value(pd.pattern_fraction),
      "maps with a planted failure pattern")("images", po::value<std::uint64_t>()->default_value(0),
                                             "inspection images to write")(
      "image-height", po::value<std::uint32_t>()->default_value(pd.image_height), "image rows")(
      "image-width", po::value<std::uint32_t>()->default_value(pd.image_width), "image columns")(
      "rgb", po::bool_switch(), "RGB images [n, h, w, 3] (default grey)")(
      "image-bits", po::value<std::uint32_t>()->default_value(pd.image_bits),
      "bits per pixel value: 8 (uint8) or 16 (uint16)")(
      "defect-fraction", po::value<double>()->default_value(pd.defect_fraction),
      "images with planted defects");
  // --- end maps and images ---
  bool help = false;
  const po::variables_map vm = parse_options("generate", argc, argv, desc, nullptr, &help);
  if (help)
    return help_command("generate",
                        help_text("generate", "wafermill generate --output FILE [options]", desc));
  generate::GeneratorOptions o;
  o.output = vm["output"].as<std::string>();
  o.force = vm["force"].as<bool>();
  o.n_wafers = vm["wafers"].as<std::uint64_t>();
  o.n_sensors = vm["sensors"].as<std::uint32_t>();
  o.n_steps = vm["steps"].as<std::uint32_t>();
  o.mean_length = vm["mean-length"].as<double>();
  o.length_sigma = vm["length-sigma"].as<double>();
  o.empty_fraction = vm["empty-fraction"].as<double>();
  o.anomaly_fraction = vm["anomaly-fraction"].as<double>();
  o.nan_fraction = vm["nan-fraction"].as<double>();
  o.anomaly_step = vm["anomaly-step"].as<std::int64_t>();
  o.drift = vm["drift"].as<double>();
  o.night = vm["night"].as<std::uint64_t>();
  o.drift_sensor = vm["drift-sensor"].as<std::string>();
  o.step_sensor = vm["step-sensor"].as<std::string>();
  o.step_size = vm["step-size"].as<double>();
  o.step_night = vm["step-night"].as<std::uint64_t>();
  o.float64 = vm["float64"].as<bool>();
  o.gzip_level = vm["gzip"].as<int>();
  o.chunk_rows = vm["chunk-rows"].as<std::uint64_t>();
  o.seed = vm["seed"].as<std::uint64_t>();
  o.target_bytes = static_cast<std::uint64_t>(vm["target-mb"].as<double>() * 1e6);
  o.n_files = vm["files"].as<std::uint64_t>();
  if (vm.count("drop-sensor")) o.drop_sensors = vm["drop-sensor"].as<std::vector<std::string>>();
  // --- maps and images ---
  if (vm["maps"].as<std::uint64_t>() > 0 || vm["images"].as<std::uint64_t>() > 0) {
    if (o.n_files > 0 || !o.drop_sensors.empty())
      throw UsageError(
          "generate: --files and --drop-sensor are for trace files only, not with --maps or "
          "--images");
    generate::PictureOptions p;
    p.output = o.output;
    p.force = o.force;
    if (!vm["wafers"].defaulted()) p.traces = o;
    p.n_maps = vm["maps"].as<std::uint64_t>();
    p.pattern_fraction = vm["pattern-fraction"].as<double>();
    p.n_images = vm["images"].as<std::uint64_t>();
    p.image_height = vm["image-height"].as<std::uint32_t>();
    p.image_width = vm["image-width"].as<std::uint32_t>();
    p.rgb = vm["rgb"].as<bool>();
    p.image_bits = vm["image-bits"].as<std::uint32_t>();
    p.defect_fraction = vm["defect-fraction"].as<double>();
    p.seed = o.seed;
    return {"generate", false, [p](MPI_Comm) {
              const auto r = generate::generate_pictures(p);
              std::printf(
                  "wrote %s: %llu maps (%llu patterned), %llu images (%llu defective)%s, %.1f MB\n",
                  p.output.c_str(), static_cast<unsigned long long>(r.n_maps),
                  static_cast<unsigned long long>(r.n_patterned),
                  static_cast<unsigned long long>(r.n_images),
                  static_cast<unsigned long long>(r.n_defective), p.traces ? " and traces" : "",
                  r.bytes / 1e6);
              return 0;
            }};
  }
  // --- end maps and images ---
  return {"generate", false, [o](MPI_Comm) {
            const auto r = generate::generate_traces(o);
            const std::string what =
                r.manifest.empty() ? o.output
                                   : std::to_string(r.files.size()) + " files " + r.files.front() +
                                         " .. " + r.files.back() + " listed in " + r.manifest;
            std::printf("wrote %s: %llu wafers, %llu samples, %llu anomalous, %.1f MB\n",
                        what.c_str(), static_cast<unsigned long long>(r.n_wafers),
                        static_cast<unsigned long long>(r.n_samples),
                        static_cast<unsigned long long>(r.n_anomalous), r.bytes / 1e6);
            return 0;
          }};
}

namespace {

// The checks of `run` in a child process: HDF5 1.10.8 crashes or loops on some damaged files
// (docs/RELIABILITY.md "HDF5 findings"); the child turns that into one more problem. Traces
// report every problem found; maps and images their first.
std::vector<std::string> validate_isolated(const std::string& file) {
  std::vector<std::string> problems;
  try {
    job::run_isolated(file, 60.0, [&file] {
      std::vector<std::string> found;
      format::FileContents contents;
      try {
        contents = format::probe_contents(file);
      } catch (const InputError&) {
        contents.traces = true;  // validate_trace_file reports why the file cannot be read
      }
      if (contents.traces || (!contents.maps && !contents.images))
        found = format::validate_trace_file(file);
      std::optional<std::uint64_t> n_maps;
      try {
        if (contents.maps) n_maps = format::read_map_index(file).n_wafers;
      } catch (const InputError& e) {
        found.push_back(e.what());
      }
      try {
        if (contents.images) format::read_image_index(file, n_maps);
      } catch (const InputError& e) {
        found.push_back(e.what());
      }
      if (found.empty()) return;
      std::string joined;
      // Record separators, not newlines: one problem may span lines (HDF5's error stack).
      for (const auto& p : found) joined += p + '\x1e';
      throw InputError(joined);
    });
  } catch (const InputError& e) {
    std::string text = e.what();
    std::size_t start = 0;
    while (start < text.size()) {
      const std::size_t end = text.find('\x1e', start);
      if (end != start)
        problems.push_back(text.substr(start, end == std::string::npos ? end : end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  return problems;
}

}  // namespace

Command make_validate_command(int argc, char** argv) {
  po::options_description desc("wafermill validate options");
  desc.add_options()(
      "file", po::value<std::vector<std::string>>()->required(),
      "files to check (traces, maps, images): files, directories, globs and @manifests "
      "as `run --input` takes them");
  po::positional_options_description pos;
  pos.add("file", -1);
  bool help = false;
  const po::variables_map vm = parse_options("validate", argc, argv, desc, &pos, &help);
  if (help)
    return help_command("validate",
                        help_text("validate", "wafermill validate FILE|DIR|GLOB|@LIST...", desc));
  const auto specs = vm["file"].as<std::vector<std::string>>();
  return {"validate", false, [specs](MPI_Comm) {
            // The same expansion as `run --input` (a night's directory, a manifest, a glob).
            std::vector<std::string> files;
            try {
              files = format::expand_inputs(specs);
            } catch (const UsageError& e) {
              // Its messages name run's option; here the arguments are positional.
              std::string what = e.what();
              if (what.rfind("--input ", 0) == 0) what.erase(0, 8);
              throw UsageError(what);
            }
            int code = 0;
            std::size_t bad = 0;
            for (const auto& f : files) {
              const auto problems = validate_isolated(f);
              if (problems.empty()) {
                // The child read the file without harm: probing it here is safe.
                const auto c = format::probe_contents(f);
                std::string kinds = c.traces ? "traces" : "";
                if (c.maps) kinds += kinds.empty() ? "maps" : ", maps";
                if (c.images) kinds += kinds.empty() ? "images" : ", images";
                std::printf("%s: valid wafermill %s v1\n", f.c_str(), kinds.c_str());
                // Valid but slow to read: said on stderr, the exit code stays 0.
                if (c.traces)
                  for (const auto& w : format::chunking_warnings(format::read_trace_index(f)))
                    std::fprintf(stderr, "wafermill: warning: %s\n", w.c_str());
                continue;
              }
              code = 2;
              ++bad;
              std::printf("%s: %zu problem%s\n", f.c_str(), problems.size(),
                          problems.size() == 1 ? "" : "s");
              for (const auto& p : problems) std::printf("  %s\n", p.c_str());
            }
            if (files.size() > 1)
              std::printf("%zu files: %zu valid, %zu with problems\n", files.size(),
                          files.size() - bad, bad);
            return code;
          }};
}

Command make_sequential_command(int argc, char** argv) {
  po::options_description desc("wafermill sequential options (used by `run --baseline run`)");
  desc.add_options()("config-json", po::value<std::string>()->required(),
                     "job configuration as JSON")("figures-out",
                                                  po::value<std::string>()->required(),
                                                  "where to write the run's figures (JSON)");
  bool help = false;
  const po::variables_map vm = parse_options("sequential", argc, argv, desc, nullptr, &help);
  if (help)
    return help_command(
        "sequential",
        help_text("sequential", "wafermill sequential --config-json F --figures-out F", desc));
  const auto config = vm["config-json"].as<std::string>();
  const auto figures = vm["figures-out"].as<std::string>();
  return {"sequential", false,
          [config, figures](MPI_Comm) { return job::sequential_main(config, figures); }};
}

}  // namespace wafermill::cli
