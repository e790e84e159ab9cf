// `mailsanctl selftest --mx HOST[:PORT]`: sends a clean message, GTUBE and
// EICAR through a live MX and says for each whether it was handled as
// expected (accepted; refused as spam; refused as a virus). Exit 0 when all
// three were. Called by main.cpp.
#pragma once

#include "mailsanctl/command_context.hpp"

namespace mailsan::ctl {

inline constexpr const char* kSelftestUsage =
    "selftest --mx HOST[:PORT] [--from SENDER] [--to RECIPIENT] [--source IP]";

int run_selftest_command(CommandContext& ctx);

}  // namespace mailsan::ctl
