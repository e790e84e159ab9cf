// What every daemon's main() does: bind an options table to a fresh config,
// handle the command line (--help, --dump-config, --check-config, the
// config file, overrides), and hand the config to the daemon. Start-up
// errors end the process with status 2 and the file, line and reason.
#pragma once

#include <iostream>
#include <string>
#include <vector>

#include "common/config/option_table.hpp"

namespace mailsan::daemon {

// make_table(Config&) is the daemon's make_option_table; run(config, args)
// its run_daemon, given the original command line for reloads.
template <typename Config, typename MakeTable, typename Run>
int daemon_main(int argc, char** argv, const char* program, const std::string& default_config,
                MakeTable make_table, Run run) {
  Config config;
  auto table = make_table(config);
  try {
    auto cl = config::parse_command_line(table, argc, argv, default_config, std::cout, std::cerr);
    if (cl.action == config::Action::exit_ok) return 0;
    if (cl.action == config::Action::exit_error) return 2;
  } catch (const config::ConfigError& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 2;
  }
  return run(config, std::vector<std::string>(argv, argv + argc));
}

}  // namespace mailsan::daemon
