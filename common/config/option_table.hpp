// One options table per daemon (Valkey's static_configs[] idea): each row is a
// name, a type, a default, bounds and a one-line doc, bound to the field of the
// daemon's config struct it fills. The table drives --help, the config-file
// parser (Boost.Program_options underneath), --dump-config and the generated
// etc/*.conf.example, so the table *is* the documentation.
//
// Names are "key" for the top section and "section.key" for "[section]" keys.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mailsan::config {

enum class Kind {
  string,    // free text
  integer,   // signed, within [min, max]
  boolean,   // yes/no, true/false, on/off, 1/0
  duration,  // seconds; a suffix s, m, h, d or w is accepted ("5m", "2d")
  size,      // bytes; a suffix k, m or g (powers of 1024) is accepted
  list,      // comma- or space-separated values; repeated keys append
  number,    // decimal (a spam score: 5, -0.5, 12.25), within [min, max]
};

struct Option {
  std::string name;  // "delay" or "greylist.delay"
  Kind kind;
  std::string default_value;  // as it would be written in the file
  std::int64_t min = 0;       // integer, duration (seconds), size (bytes)
  std::int64_t max = 0;
  std::string doc;  // one line; a test fails when empty
  // add_choice only: the accepted values (kind is string).
  std::vector<std::string> choices;
  // Stores a parsed value into the bound field; throws std::invalid_argument
  // with a message that names the problem (not the option: the caller adds it).
  std::function<void(const std::string&)> assign;
  // The field's current value, written as it would be in the file.
  std::function<std::string()> current;
  // The value is taken only at start (a socket bound, a connection or an
  // engine built once); a SIGHUP leaves it as it was (keep_restart_only).
  bool restart_only = false;
};

class OptionTable {
 public:
  explicit OptionTable(std::string daemon_name) : daemon_(std::move(daemon_name)) {}

  // Each adder binds a row to a field and immediately assigns the default.
  OptionTable& add_string(std::string name, std::string* target, std::string def, std::string doc);
  OptionTable& add_integer(std::string name, std::int64_t* target, std::int64_t def,
                           std::int64_t min, std::int64_t max, std::string doc);
  OptionTable& add_bool(std::string name, bool* target, bool def, std::string doc);
  OptionTable& add_duration(std::string name, std::chrono::seconds* target,
                            std::chrono::seconds def, std::chrono::seconds min,
                            std::chrono::seconds max, std::string doc);
  OptionTable& add_size(std::string name, std::int64_t* target, std::int64_t def, std::int64_t min,
                        std::int64_t max, std::string doc);
  OptionTable& add_list(std::string name, std::vector<std::string>* target, std::string def,
                        std::string doc);
  // A decimal number; the bounds are whole numbers.
  OptionTable& add_number(std::string name, double* target, double def, std::int64_t min,
                          std::int64_t max, std::string doc);
  // A string restricted to one of `choices` (e.g. fail_open|fail_closed).
  OptionTable& add_choice(std::string name, std::string* target, std::string def,
                          std::vector<std::string> choices, std::string doc);

  // Adds a check to the row added last: it sees the value as written, before
  // it is stored, and throws std::invalid_argument to reject it, so that e.g.
  // a malformed address is reported with file and line like any bad value.
  // The default must pass it.
  OptionTable& with_check(std::function<void(const std::string&)> check);
  // Marks the row added last as taking effect only at start; the generated
  // docs say "(restart)" after its doc line.
  OptionTable& restart_only();

  // A row that only rejects: `old_name` was renamed to `new_name` (which must
  // already be in the table), and a file or command line that still sets it
  // stops with a message saying where it went ("spamd.spam_tag_score has
  // moved: write it as spam_tag_score under [verdict]"). A silently ignored
  // threshold would change verdicts without a word. Moved rows are not
  // options: --help, the example file and the reference do not list them.
  OptionTable& add_moved(std::string old_name, std::string new_name);

  const std::vector<Option>& options() const { return options_; }
  const std::string& daemon() const { return daemon_; }
  const Option* find(const std::string& name) const;
  // For a moved name, why it is refused (see add_moved); empty otherwise.
  std::string moved_message(const std::string& name) const;
  // True when a row or a moved row lives in "[section]".
  bool has_section(const std::string& section) const;

  // "mailsan-policyd" for daemon "policyd" (a daemon name that already
  // starts with "mailsan" is kept); used in --help and generated files.
  std::string program_name() const;
  // "policyd.conf": the file name under /etc/mailsan and etc/.
  std::string config_file_name() const;

 private:
  OptionTable& add(Option option);

  std::string daemon_;
  std::vector<Option> options_;
  std::vector<std::pair<std::string, std::string>> moved_;  // old name, new name
};

// The bounds of an integer, duration or size row as written in docs and
// messages ("0s .. 30d", "at least 1"); empty when the row has none.
std::string describe_range(const Option& option);

// A start-up error: the message names the file and line where there is one
// ("policyd.conf:12: unknown option 'greylist.dealy'").
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads a config file into the table's fields. "key = value" lines,
// "[section]" headers, '#' comments, blank lines. Throws ConfigError on an
// unknown key, a bad value or an out-of-range value, naming file and line.
void load_file(const OptionTable& table, const std::string& path);
// Applies command-line overrides "--key=value" / "--section.key=value".
// A list given here replaces the file's value (several pairs for one list
// are joined). Throws ConfigError ("command line: ...").
void apply_overrides(const OptionTable& table,
                     const std::vector<std::pair<std::string, std::string>>& kv);
// Stores every row's default again; a reload does this before load_file()
// so that a line deleted from the file falls back to its default.
void reset_to_defaults(const OptionTable& table);

// For SIGHUP: every restart-only row whose value in `fresh` (the config just
// reloaded) differs from `running` (the config the process runs with) gets
// the running value assigned back, so that the new config says what the
// process really uses and the change waits for the next start. Returns the
// names of those rows in table order, for the daemon to log
// ("reload_partial options=listen,redis"). Rows are matched by name.
//
// make_option_table() stores the defaults into the fields it binds, so bind
// the running table to a copy and fill the copy after binding:
//
//   PolicydConfig fresh, running;
//   auto fresh_table = make_option_table(fresh);
//   auto running_table = make_option_table(running);
//   running = config;  // the table reads the fields it is bound to
//   if (!config::reload_command_line(fresh_table, args, kDefaultConfigPath, &error)) ...
//   auto kept = config::keep_restart_only(running_table, fresh_table);
//   if (!kept.empty()) log::warning("reload_partial").kv("options", <kept joined by ",">);
//   config = std::move(fresh);
std::vector<std::string> keep_restart_only(const OptionTable& running, const OptionTable& fresh);

// What a daemon's main() should do after parse_command_line().
enum class Action { run, exit_ok, exit_error };
struct CommandLine {
  Action action = Action::run;
  std::string config_path;  // after --config/-c, or the default
  bool check_only = false;  // --check-config: load, validate, exit 0
};
// Handles --config/-c FILE, --help, --dump-config, --check-config, --version,
// --example-config and --markdown-reference (print the generated files, so
// `mailsan-policyd --example-config > etc/policyd.conf.example` regenerates
// one) and any "--name=value" or "--name value" override from the table. Loads the config file
// (a missing file is an error only when given explicitly), applies the
// overrides, prints help/dump to `out` and errors to `err`.
CommandLine parse_command_line(const OptionTable& table, int argc, const char* const* argv,
                               const std::string& default_config_path, std::ostream& out,
                               std::ostream& err);

// For SIGHUP: loads the file and overrides of the daemon's original command
// line `args` into the fields `table` is bound to, as at start-up. Returns
// false with the reason in *error (the caller keeps its running config).
bool reload_command_line(const OptionTable& table, const std::vector<std::string>& args,
                         const std::string& default_config_path, std::string* error);

// The --help text: usage, the general flags and every option with its type,
// doc, default and bounds.
std::string help_text(const OptionTable& table, const std::string& program,
                      const std::string& default_config_path);
// The effective configuration, one "key = value" per line in sections.
std::string dump(const OptionTable& table);
// The commented example file generated from the table (etc/<daemon>.conf.example).
std::string example_file(const OptionTable& table);
// The Markdown reference for docs/ generated from the table.
std::string markdown_reference(const OptionTable& table);

}  // namespace mailsan::config
