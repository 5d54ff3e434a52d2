/// @file mpi_moments.hpp
/// @brief An MPI datatype for Moments and a user MPI_Op that applies the Pébay merge.
///
/// The op is non-commutative, so MPI combines contributions in rank order; but the shape of
/// the combining tree is the MPI library's choice and changes with the process count, and the
/// merge is not associative in floating point. Results through this op are therefore NOT
/// bitwise reproducible across rank counts. The job's fleet statistics use the block-ordered
/// path instead (partials gathered per block, merged by BlockReducer in block order); this op
/// is for figures where a last-bit difference does not matter (diagnostics, cross-checks).
#pragma once

#include <mpi.h>

#include "wafermill/reduce/moments.hpp"

namespace wafermill::reduce {

/// @brief Owns the committed datatype of one Moments (MPI_Type_contiguous of 7 doubles) and the
/// merge op; both are freed on destruction unless MPI was already finalised. Create it after
/// MPI_Init, one per process, and destroy it before MPI_Finalize.
class MomentsMpi {
 public:
  /// @brief Commits the type and creates the op. @throws std::runtime_error if MPI is not
  /// initialised or an MPI call fails.
  MomentsMpi();
  ~MomentsMpi();
  MomentsMpi(const MomentsMpi&) = delete;
  MomentsMpi& operator=(const MomentsMpi&) = delete;

  /// @brief The datatype of one Moments.
  MPI_Datatype datatype() const { return type_; }
  /// @brief The op: inout[i] = merge(in[i], inout[i]), declared non-commutative.
  MPI_Op merge_op() const { return op_; }

 private:
  MPI_Datatype type_ = MPI_DATATYPE_NULL;
  MPI_Op op_ = MPI_OP_NULL;
};

}  // namespace wafermill::reduce
