// wafermill import: placeholder until the import room lands (issue 7).
#include "commands.hpp"
#include "wafermill/error.hpp"

namespace wafermill::cli {
Command make_import_command(int, char**) { throw UsageError("wafermill import is not built yet"); }
}  // namespace wafermill::cli
