// mailsan-policyd put together: Redis, the check pipeline, the policy server,
// metrics and signals (SIGTERM drains, SIGHUP reloads config and lists).
#pragma once

#include <string>
#include <vector>

#include "policyd/policyd_config.hpp"

namespace mailsan::policyd {

// Runs until SIGTERM/SIGINT and returns the exit code. `args` is the command
// line, kept so that SIGHUP re-reads the file and applies the same overrides.
int run_daemon(const PolicydConfig& config, std::vector<std::string> args);

}  // namespace mailsan::policyd
