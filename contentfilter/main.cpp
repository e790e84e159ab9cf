// mailsan-filter: the before-queue SMTP proxy for smtpd_proxy_filter (SPEC §3).
#include "common/daemon/daemon_main.hpp"
#include "contentfilter/filter_config.hpp"
#include "contentfilter/filter_daemon.hpp"

int main(int argc, char** argv) {
  using namespace mailsan::filter;
  return mailsan::daemon::daemon_main<FilterConfig>(
      argc, argv, "mailsan-filter", kDefaultConfigPath, make_option_table, run_daemon);
}
