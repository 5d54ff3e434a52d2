#include "picture_units.hpp"

#include <array>
#include <cstdint>
#include <unistd.h>

namespace wafermill::job {
namespace {

using partition::WorkUnit;

std::array<std::uint64_t, 2> encode(const std::optional<WorkUnit>& u) {
  return u ? std::array<std::uint64_t, 2>{u->first_block, u->end_block}
           : std::array<std::uint64_t, 2>{0, 0};  // first == end: no more work
}

}  // namespace

bool for_each_unit(MPI_Comm comm, const partition::PartitionPolicy& policy,
                   const partition::BlockPlan& plan,
                   const std::function<void(const WorkUnit&, const std::function<void()>& poll)>& body,
                   const std::function<bool()>& stop) {
  int rank = 0, size = 1;
  if (comm != MPI_COMM_NULL) {
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
  }
  const auto nothing = [] {};
  if (!policy.dynamic() || size == 1) {
    auto dispenser = policy.dispenser(plan, size);
    while (true) {
      if (stop()) return dispenser->next(rank).has_value();
      const auto unit = dispenser->next(rank);
      if (!unit) return false;
      body(*unit, nothing);
    }
  }
  if (rank != 0) {
    while (true) {
      MPI_Send(nullptr, 0, MPI_BYTE, 0, kTagPictureRequest, comm);
      std::array<std::uint64_t, 2> u{};
      MPI_Recv(u.data(), 2, MPI_UINT64_T, 0, kTagPictureUnit, comm, MPI_STATUS_IGNORE);
      if (u[0] == u[1]) return false;  // rank 0 knows whether work was left
      body(WorkUnit{u[0], u[1]}, nothing);
    }
  }
  auto dispenser = policy.dispenser(plan, size);
  int finished = 0;
  bool stopping = false;  // once set, every request is answered "no more work"
  bool left = false;      // units left undone
  // Answers every request already waiting; `block` waits (sleeping, not spinning) for one.
  const auto answer = [&](bool block) {
    while (true) {
      int flag = 0;
      MPI_Status st;
      MPI_Iprobe(MPI_ANY_SOURCE, kTagPictureRequest, comm, &flag, &st);
      if (!flag) {
        if (!block) return;
        ::usleep(100);
        continue;
      }
      MPI_Recv(nullptr, 0, MPI_BYTE, st.MPI_SOURCE, kTagPictureRequest, comm, MPI_STATUS_IGNORE);
      stopping = stopping || stop();
      auto next = dispenser->next(st.MPI_SOURCE);
      if (stopping && next) {
        left = true;
        next.reset();
      }
      finished += next ? 0 : 1;
      const auto u = encode(next);
      MPI_Send(u.data(), 2, MPI_UINT64_T, st.MPI_SOURCE, kTagPictureUnit, comm);
      if (block) return;
    }
  };
  const std::function<void()> poll = [&] { answer(false); };
  while (true) {
    stopping = stopping || stop();
    auto unit = dispenser->next(0);
    if (stopping && unit) left = true;
    if (stopping || !unit) break;
    body(*unit, poll);
    poll();
  }
  while (finished < size - 1) answer(true);
  return left;
}

}  // namespace wafermill::job
