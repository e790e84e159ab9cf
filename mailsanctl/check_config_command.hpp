// `mailsanctl check-config [-c FILE]`: loads mailsan-filter's config with
// the daemon's own options table and says OK, or the error with file and
// line (SPEC §5, §6). Called by main.cpp.
#pragma once

#include "mailsanctl/command_context.hpp"

namespace mailsan::ctl {

inline constexpr const char* kCheckConfigUsage = "check-config [-c FILE]";

int run_check_config_command(CommandContext& ctx);

}  // namespace mailsan::ctl
