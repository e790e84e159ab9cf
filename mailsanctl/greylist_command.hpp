// `mailsanctl greylist show CLIENT SENDER RECIPIENT` and `mailsanctl greylist
// whitelist CLIENT`: what the shared Redis holds for a triplet and its client
// network, and letting a network skip greylisting at once (its auto-whitelist
// count set to policyd's auto_whitelist). Keys are built exactly as
// mailsan-policyd builds them, from its own config (--policyd-config, default
// /etc/mailsan/policyd.conf). Called by main.cpp.
#pragma once

#include "mailsanctl/command_context.hpp"

namespace mailsan::ctl {

inline constexpr const char* kGreylistUsage =
    "greylist [--policyd-config FILE] show CLIENT_IP SENDER RECIPIENT | whitelist CLIENT_IP";

int run_greylist_command(CommandContext& ctx);

}  // namespace mailsan::ctl
