/// @file device_sum_stub.cpp
/// @brief DeviceSum where the build has no NCCL: built() is false and construction fails.
#include "wafermill/error.hpp"
#include "wafermill/reduce/device_sum.hpp"

namespace wafermill::reduce {

struct DeviceSum::Impl {};

bool DeviceSum::built() { return false; }

DeviceSum::DeviceSum(MPI_Comm, int) {
  throw UsageError("this build of wafermill has no NCCL: the device sums cannot be all-reduced on the GPU");
}

DeviceSum::~DeviceSum() = default;

void DeviceSum::sum_in_place(double*, std::size_t) {}

}  // namespace wafermill::reduce
