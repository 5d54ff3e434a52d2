/// @file mpi_moments.cpp
/// @brief The MPI datatype and merge op of Moments.
#include "wafermill/reduce/mpi_moments.hpp"

#include <stdexcept>
#include <string>
#include <type_traits>

#include "wafermill/reduce/moments.hpp"

namespace wafermill::reduce {

// The datatype describes Moments as 7 contiguous doubles; that must stay true of the struct.
static_assert(std::is_trivially_copyable_v<Moments> && std::is_standard_layout_v<Moments>);
static_assert(sizeof(Moments) == 7 * sizeof(double), "Moments must be exactly 7 doubles");

namespace {

void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw std::runtime_error(std::string("MomentsMpi: ") + call + " failed: " + std::string(text, len));
}

// MPI's user-function contract (MPI 4.0, 6.9.5): inoutvec[i] = invec[i] op inoutvec[i], where
// invec holds the lower ranks' contribution; merging (in, inout) keeps rank order.
void merge_moments(void* in, void* inout, int* len, MPI_Datatype* /*type*/) {
  const auto* a = static_cast<const Moments*>(in);
  auto* b = static_cast<Moments*>(inout);
  for (int i = 0; i < *len; ++i) b[i] = merge(a[i], b[i]);
}

}  // namespace

MomentsMpi::MomentsMpi() {
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) throw std::runtime_error("MomentsMpi: MPI is not initialised");
  check(MPI_Type_contiguous(7, MPI_DOUBLE, &type_), "MPI_Type_contiguous");
  check(MPI_Type_commit(&type_), "MPI_Type_commit");
  const int rc = MPI_Op_create(&merge_moments, /*commute=*/0, &op_);
  if (rc != MPI_SUCCESS) {
    MPI_Type_free(&type_);
    check(rc, "MPI_Op_create");
  }
}

MomentsMpi::~MomentsMpi() {
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (finalised) return;
  if (op_ != MPI_OP_NULL) MPI_Op_free(&op_);
  if (type_ != MPI_DATATYPE_NULL) MPI_Type_free(&type_);
}

}  // namespace wafermill::reduce
