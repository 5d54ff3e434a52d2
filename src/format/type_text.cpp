#include "type_text.hpp"

namespace wafermill::format::detail {

std::string describe(const h5::TypeInfo& t) {
  switch (t.type_class) {
    case h5::TypeClass::integer:
      return std::string(t.is_signed ? "int" : "uint") + std::to_string(8 * t.size);
    case h5::TypeClass::floating:
      return "float" + std::to_string(8 * t.size);
    case h5::TypeClass::string:
      return t.variable_string ? "variable-length string" : "string";
    case h5::TypeClass::other:
      break;
  }
  return "a non-numeric type";
}

std::string dims_text(const std::vector<std::uint64_t>& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

}  // namespace wafermill::format::detail
