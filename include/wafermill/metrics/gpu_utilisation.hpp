/// @file gpu_utilisation.hpp
/// @brief E_GPU = Σ_t U_t·Δt / (T · N_GPU): device utilisation sampled through NVML during a
/// run. NVML is loaded at run time (dlopen of the driver's libnvidia-ml.so.1; the toolkit
/// ships no nvml.h), so this builds and runs everywhere and reports nothing without a driver.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace wafermill::metrics {

/// @brief One sampling instant: the seconds since the previous one, and Σ over the sampled
/// GPUs of their utilisation as a fraction in [0, 1] (NVML's "percent of time over the past
/// sample period during which a kernel was executing").
struct UtilisationSample {
  double dt = 0.0;
  double sum_fraction = 0.0;
};

/// @brief Σ sum_fraction·dt / (T · n_gpus), T = Σ dt; nullopt when T == 0 or n_gpus < 1.
std::optional<double> gpu_efficiency(std::span<const UtilisationSample> samples, int n_gpus);

/// @brief The figures of a sampling run.
struct GpuUtilisation {
  double e_gpu = 0.0;    ///< as gpu_efficiency()
  double seconds = 0.0;  ///< T
  std::size_t samples = 0;
  int n_gpus = 0;
};

/// @brief Samples NVML utilisation on a thread from construction until stop().
class GpuUtilisationSampler {
 public:
  /// @brief Samples the GPUs with these PCI bus ids ("0000:65:00.0", as cudaDeviceGetPCIBusId
  /// writes them), or every GPU NVML sees when empty, `hz` times a second. Never throws for a
  /// missing library, driver or device: available() is then false.
  explicit GpuUtilisationSampler(std::vector<std::string> pci_bus_ids = {}, double hz = 20.0,
                                 const char* library = "libnvidia-ml.so.1");
  ~GpuUtilisationSampler();
  GpuUtilisationSampler(const GpuUtilisationSampler&) = delete;
  GpuUtilisationSampler& operator=(const GpuUtilisationSampler&) = delete;

  /// @brief True when NVML loaded and every requested GPU was found.
  bool available() const { return n_gpus_ > 0; }
  /// @brief Why not available() (library, symbol or device), empty otherwise.
  const std::string& why_unavailable() const { return why_; }
  /// @brief Stops sampling; the figures, or nullopt when NVML is absent or no time passed.
  std::optional<GpuUtilisation> stop();

 private:
  struct Nvml;
  void run(double period);

  std::unique_ptr<Nvml> nvml_;  // the dlopen handle and the function pointers
  std::vector<void*> devices_;
  int n_gpus_ = 0;
  std::string why_;
  std::vector<UtilisationSample> samples_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace wafermill::metrics
