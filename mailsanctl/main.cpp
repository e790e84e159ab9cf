// mailsanctl: the admin command line (SPEC §5). Parses the global options,
// picks the command group and runs it; each group lives in its own
// *_command.cpp.
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "mailsanctl/check_config_command.hpp"
#include "mailsanctl/command_context.hpp"
#include "mailsanctl/greylist_command.hpp"
#include "mailsanctl/learn_command.hpp"
#include "mailsanctl/quarantine_command.hpp"
#include "mailsanctl/report_command.hpp"
#include "mailsanctl/selftest_command.hpp"

namespace {

using namespace mailsan::ctl;

struct CommandGroup {
  std::string_view name;
  const char* usage;
  int (*run)(CommandContext&);
};

constexpr CommandGroup kGroups[] = {
    {"report", kReportUsage, run_report_command},
    {"greylist", kGreylistUsage, run_greylist_command},
    {"learn", kLearnUsage, run_learn_command},
    {"selftest", kSelftestUsage, run_selftest_command},
    {"quarantine", kQuarantineUsage, run_quarantine_command},
    {"check-config", kCheckConfigUsage, run_check_config_command},
};

int usage(std::ostream& out, int code) {
  out << "usage: mailsanctl [-c FILE] COMMAND ...\n"
      << "  -c, --config FILE  mailsan-filter's config (default "
      << mailsan::filter::kDefaultConfigPath << ")\n";
  for (const auto& g : kGroups) out << "  mailsanctl " << g.usage << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CommandContext ctx(std::cout, std::cerr);
  const CommandGroup* group = nullptr;
  // -c may come before or after the command ("check-config -c FILE").
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-c" || arg == "--config") {
      if (i + 1 == argc) {
        std::cerr << "mailsanctl: " << arg << " needs a file name\n";
        return usage(std::cerr, kExitUsage);
      }
      ctx.config_path = argv[++i];
      ctx.config_given = true;
    } else if (arg.starts_with("--config=")) {
      ctx.config_path = arg.substr(9);
      ctx.config_given = true;
    } else if (group == nullptr && (arg == "-h" || arg == "--help")) {
      return usage(std::cout, kExitOk);
    } else if (group == nullptr) {
      for (const auto& g : kGroups)
        if (g.name == arg) group = &g;
      if (group == nullptr) {
        std::cerr << "mailsanctl: unknown command '" << printable(arg) << "'\n";
        return usage(std::cerr, kExitUsage);
      }
    } else {
      ctx.args.push_back(arg);
    }
  }
  if (group == nullptr) return usage(std::cerr, kExitUsage);
  return group->run(ctx);
}
