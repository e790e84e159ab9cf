// `mailsanctl check-config` (see check_config_command.hpp).
#include "mailsanctl/check_config_command.hpp"

#include <filesystem>
#include <system_error>

namespace mailsan::ctl {

int run_check_config_command(CommandContext& ctx) {
  if (!ctx.args.empty()) {
    ctx.err << "mailsanctl: check-config takes no arguments but -c FILE\n"
            << "usage: mailsanctl " << kCheckConfigUsage << "\n";
    return kExitUsage;
  }
  // Checking a file that is not there is an error, default path or not:
  // "OK" would suggest the daemon reads a config it will not find.
  std::error_code ec;
  if (!std::filesystem::exists(ctx.config_path, ec)) {
    ctx.err << "mailsanctl: cannot open " << ctx.config_path << ": no such file\n";
    return kExitUsage;
  }
  CommandContext explicit_ctx(ctx.out, ctx.err);
  explicit_ctx.config_path = ctx.config_path;
  explicit_ctx.config_given = true;
  filter::FilterConfig config;
  if (!load_filter_config(explicit_ctx, config)) return kExitUsage;
  ctx.out << ctx.config_path << ": OK\n";
  return kExitOk;
}

}  // namespace mailsan::ctl
