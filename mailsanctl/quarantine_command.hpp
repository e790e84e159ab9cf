// `mailsanctl quarantine list [--json] | show ID | release ID | delete ID`
// (SPEC §3, §5): the operator's view of mailsan-filter's quarantine. Called
// by main.cpp with the arguments after "quarantine".
//
// The Redis index is shared by every MX, so `list` shows every MX's entries
// (with the host that holds each), plus entries of this host's
// quarantine_dir that are missing from the index (quarantined while Redis
// was down). When Redis cannot be reached, `list` warns and lists this
// host's directory alone. `show`, `release` and `delete` act on this host's
// directory; for an entry another MX holds they say which MX to run on.
//
// SECURITY: ids on the command line are checked with valid_quarantine_id()
// before anything else (they become path components); everything printed
// from a record or a message goes through printable().
#pragma once

#include "mailsanctl/command_context.hpp"

namespace mailsan::ctl {

inline constexpr const char* kQuarantineUsage =
    "quarantine list [--json] | show ID | release ID | delete ID";

int run_quarantine_command(CommandContext& ctx);

}  // namespace mailsan::ctl
