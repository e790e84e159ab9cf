// `mailsanctl learn spam|ham FILE`: a message someone reported. Spam marks
// its bulk checksums in the shared Redis (Razor's idea: the next copy at any
// MX is bulk at once) and is told to spamd for Bayes (TELL); ham clears the
// checksums' marks and counts and is told to spamd as ham. Called by main.cpp.
#pragma once

#include "mailsanctl/command_context.hpp"

namespace mailsan::ctl {

inline constexpr const char* kLearnUsage = "learn spam|ham FILE";

int run_learn_command(CommandContext& ctx);

}  // namespace mailsan::ctl
