/// @file gpu_utilisation.cpp
/// @brief GpuUtilisationSampler: NVML through dlopen, the handful of declarations it needs
/// written here (their layout is NVML's stable C ABI: nvml.h of CUDA 12/13).
#include "wafermill/metrics/gpu_utilisation.hpp"

#include <dlfcn.h>

#include <chrono>

#include "wafermill/metrics/metrics.hpp"

namespace wafermill::metrics {
namespace {

using nvmlReturn_t = int;  // NVML_SUCCESS == 0
using nvmlDevice_t = void*;
struct nvmlUtilization_t {
  unsigned int gpu;     // percent of the period a kernel ran
  unsigned int memory;  // percent of the period device memory was read or written
};

}  // namespace

std::optional<double> gpu_efficiency(std::span<const UtilisationSample> samples, int n_gpus) {
  double busy = 0.0, total = 0.0;
  for (const UtilisationSample& s : samples) {
    busy += s.sum_fraction * s.dt;
    total += s.dt;
  }
  if (total <= 0.0 || n_gpus < 1) return std::nullopt;
  return busy / (total * n_gpus);
}

struct GpuUtilisationSampler::Nvml {
  void* handle = nullptr;
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  nvmlReturn_t (*count)(unsigned int*) = nullptr;
  nvmlReturn_t (*by_index)(unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*by_pci)(const char*, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*utilisation)(nvmlDevice_t, nvmlUtilization_t*) = nullptr;
  bool initialised = false;
  ~Nvml() {
    if (initialised) shutdown();
    if (handle != nullptr) dlclose(handle);
  }
  template <class F>
  bool bind(F& f, const char* name) {
    f = reinterpret_cast<F>(dlsym(handle, name));
    return f != nullptr;
  }
};

GpuUtilisationSampler::GpuUtilisationSampler(std::vector<std::string> pci_bus_ids, double hz,
                                             const char* library) {
  auto nvml = std::make_unique<Nvml>();
  nvml->handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
  if (nvml->handle == nullptr) {
    why_ = std::string("cannot load ") + library + " (no NVIDIA driver?)";
    return;
  }
  if (!nvml->bind(nvml->init, "nvmlInit_v2") || !nvml->bind(nvml->shutdown, "nvmlShutdown") ||
      !nvml->bind(nvml->count, "nvmlDeviceGetCount_v2") ||
      !nvml->bind(nvml->by_index, "nvmlDeviceGetHandleByIndex_v2") ||
      !nvml->bind(nvml->by_pci, "nvmlDeviceGetHandleByPciBusId_v2") ||
      !nvml->bind(nvml->utilisation, "nvmlDeviceGetUtilizationRates")) {
    why_ = std::string(library) + " lacks an NVML function this sampler needs";
    return;
  }
  if (nvml->init() != 0) {
    why_ = "nvmlInit_v2 failed";
    return;
  }
  nvml->initialised = true;
  if (pci_bus_ids.empty()) {
    unsigned int n = 0;
    if (nvml->count(&n) != 0) n = 0;
    for (unsigned int i = 0; i < n; ++i) {
      nvmlDevice_t d = nullptr;
      if (nvml->by_index(i, &d) == 0) devices_.push_back(d);
    }
  } else {
    for (const std::string& id : pci_bus_ids) {
      nvmlDevice_t d = nullptr;
      if (nvml->by_pci(id.c_str(), &d) != 0) {
        why_ = "NVML knows no GPU at PCI bus id " + id;
        devices_.clear();
        break;
      }
      devices_.push_back(d);
    }
  }
  if (devices_.empty()) {
    if (why_.empty()) why_ = "NVML sees no GPU";
    return;
  }
  n_gpus_ = static_cast<int>(devices_.size());
  nvml_ = std::move(nvml);
  thread_ = std::thread([this, hz] { run(1.0 / hz); });
}

// Joins the thread before nvml_ (and with it the library) goes.
GpuUtilisationSampler::~GpuUtilisationSampler() { stop(); }

void GpuUtilisationSampler::run(double period) {
  // Each reading describes NVML's own recent sample period; weighting it by the time since the
  // previous reading makes E_GPU a time average over the run whatever the sampling jitter.
  double last = now_seconds();
  while (!stopping_.load()) {
    std::this_thread::sleep_for(std::chrono::duration<double>(period));
    const double t = now_seconds();
    double sum = 0.0;
    for (void* d : devices_) {
      nvmlUtilization_t u{};
      if (nvml_->utilisation(d, &u) == 0) sum += u.gpu / 100.0;
    }
    samples_.push_back({t - last, sum});
    last = t;
  }
}

std::optional<GpuUtilisation> GpuUtilisationSampler::stop() {
  if (!thread_.joinable()) {
    if (!available()) return std::nullopt;
  } else {
    stopping_.store(true);
    thread_.join();
  }
  const std::optional<double> e = gpu_efficiency(samples_, n_gpus_);
  if (!e) return std::nullopt;
  GpuUtilisation g;
  g.e_gpu = *e;
  for (const UtilisationSample& s : samples_) g.seconds += s.dt;
  g.samples = samples_.size();
  g.n_gpus = n_gpus_;
  return g;
}

}  // namespace wafermill::metrics
