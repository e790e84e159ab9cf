// `mailsanctl report [--day YYYY-MM-DD] [--json]`: the seed deployment's
// table (SPEC §5) from the day's counters that every mailsan daemon on every
// MX adds to in the shared Redis (common/stats/daily_counters.hpp). Called by
// main.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "mailsanctl/command_context.hpp"

namespace mailsan::ctl {

inline constexpr const char* kReportUsage = "report [--day YYYY-MM-DD] [--json]";

int run_report_command(CommandContext& ctx);

// The table for one day's counters (field -> count), as printed.
std::string format_report(const std::string& day, const std::map<std::string, std::int64_t>& c);
std::string format_report_json(const std::string& day,
                               const std::map<std::string, std::int64_t>& c);

}  // namespace mailsan::ctl
