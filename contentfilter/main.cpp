// mailsan-filter: the before-queue SMTP proxy for smtpd_proxy_filter (SPEC §3).
#include <iostream>
#include <string>
#include <vector>

#include "contentfilter/filter_config.hpp"
#include "contentfilter/filter_daemon.hpp"

int main(int argc, char** argv) {
  using namespace mailsan;
  filter::FilterConfig config;
  auto table = filter::make_option_table(config);
  try {
    auto cl = config::parse_command_line(table, argc, argv, filter::kDefaultConfigPath, std::cout,
                                         std::cerr);
    if (cl.action == config::Action::exit_ok) return 0;
    if (cl.action == config::Action::exit_error) return 2;
  } catch (const config::ConfigError& e) {
    std::cerr << "mailsan-filter: " << e.what() << "\n";
    return 2;
  }
  return filter::run_daemon(config, std::vector<std::string>(argv, argv + argc));
}
