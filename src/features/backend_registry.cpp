/// @file backend_registry.cpp
/// @brief make_backend(): a feature backend chosen by name.
#include "cuda_entry.hpp"
#include "wafermill/error.hpp"
#include "wafermill/features/backend.hpp"

namespace wafermill::features {

std::unique_ptr<FeatureBackend> make_backend(const BackendOptions& options,
                                             const FeatureLayout& layout) {
  if (options.name == "cpu") return make_cpu_backend(layout, options.host_scratch_bytes);
  if (options.name == "cuda") return make_cuda_backend(options, layout);
  if (options.name == "auto") {
    return cuda_device_count() > 0 ? make_cuda_backend(options, layout)
                                   : make_cpu_backend(layout, options.host_scratch_bytes);
  }
  throw UsageError("unknown feature backend '" + options.name +
                   "'; valid backends: cpu, cuda, auto");
}

int cuda_device_count() { return cuda_devices(); }

}  // namespace wafermill::features
