// The per-sensor shift of the fleet moments (reduce::FleetMoments): chosen by rank 0 from the
// first samples of the input before any work, and shared, so that every wafer's contribution
// is computed about the same point on every rank. Private to job/.
#pragma once

#include <vector>

#include "drive/team.hpp"
#include "wafermill/format/trace_index.hpp"
#include "wafermill/format/trace_reader.hpp"

namespace wafermill::job {

/// Rows of one sensor that choose_fleet_shift() reads at most (32 KiB of doubles).
inline constexpr std::uint64_t kShiftRows = 4096;

/// Per sensor: the median of the finite samples of the first wafer (in global wafer order) that
/// has any for that sensor, looking at no more than kShiftRows rows of the sensor from wafer 0
/// on, one sensor column at a time (files that lack the sensor are passed over unread); 0 where
/// none of them is finite. Rank 0 reads, every rank
/// gets the same values (they depend on the input alone: not on ranks, policy or memory budget).
/// Collective over team. @throws CollectiveInputError on every rank when rank 0's read fails.
std::vector<double> choose_fleet_shift(const format::TraceIndex& index, format::TraceReader& reader,
                                       const Team& team);

}  // namespace wafermill::job
