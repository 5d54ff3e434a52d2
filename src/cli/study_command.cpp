// wafermill study: placeholder until the study room lands (issue 4).
#include "commands.hpp"
#include "wafermill/error.hpp"

namespace wafermill::cli {
Command make_study_command(int, char**) { throw UsageError("wafermill study is not built yet"); }
}  // namespace wafermill::cli
