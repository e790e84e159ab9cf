// What every mailsanctl command group gets from main(), and the helpers
// they share: exit codes, loading the filter's config, the Redis settings
// from it, and making untrusted text safe to print. Called by main.cpp and
// the *_command.cpp files.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "contentfilter/filter_config.hpp"
#include "mailsanctl/redis_sync.hpp"

namespace mailsan::ctl {

// 0: done; 1: the operation failed (nothing there, a peer refused, ...);
// 2: the command line or the config is wrong.
enum ExitCode : int { kExitOk = 0, kExitFailed = 1, kExitUsage = 2 };

struct CommandContext {
  CommandContext(std::ostream& out_stream, std::ostream& err_stream)
      : out(out_stream), err(err_stream) {}

  std::string config_path = filter::kDefaultConfigPath;
  bool config_given = false;      // -c on the command line
  std::vector<std::string> args;  // after the command name
  std::ostream& out;
  std::ostream& err;
};

// Reads the filter's config file into `config` through its options table.
// A default path that does not exist leaves the defaults (as the daemon
// does); an explicit one must exist. On error prints the reason with file
// and line to ctx.err and returns false.
bool load_filter_config(const CommandContext& ctx, filter::FilterConfig& config);

// The Redis client options from a daemon's config (the filter's, or
// policyd's for greylisting): its redis_* rows, with redis_timeout also
// bounding the connect, since a tool that waits on a dead Redis for the
// daemons' short connect timeout would say nothing more useful.
redis::Options redis_settings(const config::CommonConfig& config);

// `text` safe for a terminal and one line of output: valid UTF-8 is kept,
// control characters (C0, DEL, C1), line breaks and invalid bytes become
// '?'. Messages, addresses and reports come from Internet clients, and an
// escape sequence must not reach the operator's terminal.
std::string printable(std::string_view text);

// "2024-05-01T12:51:30Z"
std::string iso_time(std::int64_t unix_time);

}  // namespace mailsan::ctl
