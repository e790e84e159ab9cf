// mailsan-policyd: the Postfix policy-delegation server (SPEC §2).
#include "common/daemon/daemon_main.hpp"
#include "policyd/policy_daemon.hpp"
#include "policyd/policyd_config.hpp"

int main(int argc, char** argv) {
  using namespace mailsan::policyd;
  return mailsan::daemon::daemon_main<PolicydConfig>(
      argc, argv, "mailsan-policyd", kDefaultConfigPath, make_option_table, run_daemon);
}
