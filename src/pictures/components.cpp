/// @file components.cpp
/// @brief 4-connected components by flood fill with an explicit stack (no recursion, so a
/// component as large as the grid cannot overflow the call stack).
#include "wafermill/pictures/components.hpp"

#include <stdexcept>

#include "wafermill/pictures/picture_math.hpp"

namespace wafermill::pictures {

double ComponentShape::elongation() const {
  if (size == 0) return 0.0;
  return math::elongation(var_row, var_col, cov);
}

ComponentShape shape_from_sums(std::uint64_t size, double s_r, double s_c, double s_rr, double s_cc,
                               double s_rc) {
  const math::ShapeMoments m =
      math::shape_from_sums(static_cast<double>(size), s_r, s_c, s_rr, s_cc, s_rc);
  ComponentShape s;
  s.size = size;
  s.row_mean = m.row_mean;
  s.col_mean = m.col_mean;
  s.var_row = m.var_row;
  s.var_col = m.var_col;
  s.cov = m.cov;
  return s;
}

ComponentSummary find_components(std::span<const std::uint8_t> mask, std::uint32_t rows,
                                 std::uint32_t cols, std::vector<std::uint32_t>& scratch) {
  const std::size_t n = static_cast<std::size_t>(rows) * cols;
  if (mask.size() != n) throw std::invalid_argument("find_components: mask size != rows * cols");
  // scratch[0, n): 1 once a cell joined a component; scratch[n, 2n): the flood-fill stack.
  scratch.assign(2 * n, 0);
  std::uint32_t* seen = scratch.data();
  std::uint32_t* stack = scratch.data() + n;
  ComponentSummary out;
  for (std::size_t start = 0; start < n; ++start) {
    if (mask[start] == 0 || seen[start] != 0) continue;
    ++out.count;
    // Integer coordinates: the sums below are exact in double up to 2^53.
    double s_r = 0, s_c = 0, s_rr = 0, s_cc = 0, s_rc = 0;
    std::uint64_t size = 0;
    std::size_t top = 0;
    stack[top++] = static_cast<std::uint32_t>(start);
    seen[start] = 1;
    while (top > 0) {
      const std::uint32_t cell = stack[--top];
      const std::uint32_t r = cell / cols, c = cell % cols;
      ++size;
      s_r += r;
      s_c += c;
      s_rr += double(r) * r;
      s_cc += double(c) * c;
      s_rc += double(r) * c;
      const auto visit = [&](std::uint32_t next) {
        if (mask[next] != 0 && seen[next] == 0) {
          seen[next] = 1;
          stack[top++] = next;
        }
      };
      if (r > 0) visit(cell - cols);
      if (r + 1 < rows) visit(cell + cols);
      if (c > 0) visit(cell - 1);
      if (c + 1 < cols) visit(cell + 1);
    }
    if (size > out.largest.size) out.largest = shape_from_sums(size, s_r, s_c, s_rr, s_cc, s_rc);
  }
  return out;
}

}  // namespace wafermill::pictures
