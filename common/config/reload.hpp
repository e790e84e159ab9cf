// SIGHUP for a daemon whose configuration is an options table: re-read the
// file and the command line's overrides as at start, keep what only a
// restart can change (rows marked restart_only), and say which those were.
#pragma once

#include <string>
#include <vector>

#include "common/config/option_table.hpp"
#include "common/log/log.hpp"

namespace mailsan::config {

// make_table(Config&) binds a table to a config (the daemon's
// make_option_table). Returns false, with the reason logged, when the file
// or an override is bad: the caller keeps `running`.
template <typename Config, typename MakeTable>
bool reload_config(MakeTable make_table, const std::vector<std::string>& args,
                   const std::string& default_path, const Config& running, Config* out) {
  Config fresh, current;
  auto fresh_table = make_table(fresh);
  auto running_table = make_table(current);
  current = running;  // the table reads the fields it is bound to
  std::string error;
  if (!reload_command_line(fresh_table, args, default_path, &error)) {
    log::error("reload_failed").kv("error", error);
    return false;
  }
  std::vector<std::string> kept = keep_restart_only(running_table, fresh_table);
  if (!kept.empty()) {
    std::string names;
    for (const auto& k : kept) names += (names.empty() ? "" : ",") + k;
    log::warning("reload_partial")
        .kv("options", names)
        .kv("note", "these change only with a restart");
  }
  *out = std::move(fresh);
  return true;
}

}  // namespace mailsan::config
