// `mailsanctl selftest --mx HOST[:PORT]`: sends a clean message, GTUBE and
// EICAR through a live MX and says for each whether it was handled as
// expected: accepted; refused at end of DATA with 550 5.7.1 and "spam";
// refused there with 554 5.7.1 and "virus". A refusal at any other stage
// (RCPT, MAIL, ...) is NOT OK and named with its stage, since no scanner saw
// the message. The recipient is --to, else postmaster at the domain of the
// MX's greeting, else at its address literal. Exit 0 only when all three
// were handled. Called by main.cpp.
#pragma once

#include "mailsanctl/command_context.hpp"

namespace mailsan::ctl {

inline constexpr const char* kSelftestUsage =
    "selftest --mx HOST[:PORT] [--from SENDER] [--to RECIPIENT] [--source IP]";

int run_selftest_command(CommandContext& ctx);

}  // namespace mailsan::ctl
