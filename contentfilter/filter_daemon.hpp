// mailsan-filter's daemon: builds the proxy from its configuration and runs
// it until SIGTERM (SPEC §3, §6).
#pragma once

#include <string>
#include <vector>

#include "contentfilter/filter_config.hpp"

namespace mailsan::filter {

// Runs until SIGTERM/SIGINT; returns the process exit code. `args` is the
// command line, re-read on SIGHUP.
int run_daemon(const FilterConfig& config, std::vector<std::string> args);

}  // namespace mailsan::filter
