// Handing out work units of the picture pass (private to job/). Static policies: every rank
// runs its own dispenser, no messages. Dynamic: rank 0 owns the dispenser and answers
// REQUEST messages between its own items (it works too); a worker asks for its next unit
// only when it has finished the last, which costs one round trip per unit: units are runs
// of whole blocks, so this is small next to the reads.
#pragma once

#include <functional>

#include <mpi.h>

#include "wafermill/partition/policy.hpp"

namespace wafermill::job {

/// Tags of the picture pass (distinct from transport.hpp's, which run after it).
enum PictureTag : int { kTagPictureRequest = 201, kTagPictureUnit = 202 };

/// Calls body(unit, poll) for every unit this rank gets under `policy`; body must call poll()
/// between items so rank 0 keeps answering requests. Collective over comm (MPI_COMM_NULL:
/// one process, every unit). `stop` is asked before each unit: once it is true, static
/// policies take no more units on that rank and under dynamic rank 0 hands out no more (the
/// workers finish the unit they hold). Returns true when this rank left units undone.
bool for_each_unit(MPI_Comm comm, const partition::PartitionPolicy& policy,
                   const partition::BlockPlan& plan,
                   const std::function<void(const partition::WorkUnit&,
                                            const std::function<void()>& poll)>& body,
                   const std::function<bool()>& stop = [] { return false; });

}  // namespace wafermill::job
