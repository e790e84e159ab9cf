// mailsan-policyd: the Postfix policy-delegation server (SPEC §2).
#include <iostream>
#include <string>
#include <vector>

#include "policyd/policy_daemon.hpp"
#include "policyd/policyd_config.hpp"

int main(int argc, char** argv) {
  using namespace mailsan;
  policyd::PolicydConfig config;
  auto table = policyd::make_option_table(config);
  try {
    auto cl = config::parse_command_line(table, argc, argv, policyd::kDefaultConfigPath, std::cout,
                                         std::cerr);
    if (cl.action == config::Action::exit_ok) return 0;
    if (cl.action == config::Action::exit_error) return 2;
  } catch (const config::ConfigError& e) {
    std::cerr << "mailsan-policyd: " << e.what() << "\n";
    return 2;
  }
  return policyd::run_daemon(config, std::vector<std::string>(argv, argv + argc));
}
