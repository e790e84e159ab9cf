// The daemons' command line: the general flags plus one "--name=value"
// override per table row, parsed by Boost.Program_options from the same table
// the config file uses.
#include <boost/program_options.hpp>
#include <filesystem>
#include <sstream>

#include "common/config/option_table.hpp"

// The build may pass the project version; this keeps --version working when
// it does not.
#ifndef MAILSAN_VERSION
#define MAILSAN_VERSION "0.1.0"
#endif

namespace mailsan::config {
namespace po = boost::program_options;

CommandLine parse_command_line(const OptionTable& table, int argc, const char* const* argv,
                               const std::string& default_config_path, std::ostream& out,
                               std::ostream& err) {
  const std::string program = argc > 0 && argv[0] && *argv[0]
                                  ? std::filesystem::path(argv[0]).filename().string()
                                  : table.program_name();
  CommandLine result;
  result.config_path = default_config_path;
  auto fail = [&](const std::string& message) {
    err << program << ": " << message << "\n";
    result.action = Action::exit_error;
    return result;
  };

  po::options_description general;
  general.add_options()                           //
      ("help,h", "")                              //
      ("version", "")                             //
      ("config,c", po::value<std::string>(), "")  //
      ("dump-config", "")                         //
      ("check-config", "")                        //
      ("example-config", "")                      //
      ("markdown-reference", "");
  po::options_description all;
  all.add(general);
  // Every row takes a vector so that a repeated list option collects all its
  // values; for other kinds the last occurrence wins, as with most daemons.
  for (const auto& row : table.options())
    all.add_options()(row.name.c_str(), po::value<std::vector<std::string>>(), row.doc.c_str());

  po::variables_map vm;
  std::vector<std::pair<std::string, std::string>> overrides;
  try {
    // Without allow_guessing, "--greylist.del" is an error instead of
    // silently meaning the one option it happens to prefix.
    int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    po::parsed_options parsed = po::command_line_parser(argc, argv).options(all).style(style).run();
    po::store(parsed, vm);
    for (const auto& option : parsed.options) {
      // Without a positional description, program_options hands stray words
      // through unnamed instead of rejecting them.
      if (option.string_key.empty())
        return fail("unexpected argument '" +
                    (option.original_tokens.empty() ? std::string() : option.original_tokens[0]) +
                    "'\nTry '" + program + " --help'.");
      if (table.find(option.string_key))
        for (const auto& value : option.value) overrides.emplace_back(option.string_key, value);
    }
  } catch (const po::unknown_option& e) {
    std::string name = e.get_option_name();
    while (name.starts_with('-')) name.erase(0, 1);
    std::string moved = table.moved_message(name.substr(0, name.find('=')));
    return fail((moved.empty() ? std::string(e.what()) : moved) + "\nTry '" + program +
                " --help'.");
  } catch (const po::error& e) {
    return fail(std::string(e.what()) + "\nTry '" + program + " --help'.");
  }

  if (vm.count("help")) {
    out << help_text(table, program, default_config_path);
    result.action = Action::exit_ok;
    return result;
  }
  if (vm.count("version")) {
    out << table.program_name() << " " << MAILSAN_VERSION << "\n";
    result.action = Action::exit_ok;
    return result;
  }
  if (vm.count("example-config")) {
    out << example_file(table);
    result.action = Action::exit_ok;
    return result;
  }
  if (vm.count("markdown-reference")) {
    out << markdown_reference(table);
    result.action = Action::exit_ok;
    return result;
  }

  bool explicit_config = vm.count("config") > 0;
  if (explicit_config) result.config_path = vm["config"].as<std::string>();
  std::error_code ec;
  // The default path may legitimately be absent (all defaults); a path the
  // operator named must exist.
  bool have_file = explicit_config || std::filesystem::exists(result.config_path, ec);
  try {
    if (have_file) load_file(table, result.config_path);
    apply_overrides(table, overrides);
  } catch (const ConfigError& e) {
    return fail(e.what());
  }

  if (vm.count("dump-config")) {
    out << dump(table);
    result.action = Action::exit_ok;
    return result;
  }
  if (vm.count("check-config")) {
    if (have_file)
      out << result.config_path << ": config OK\n";
    else
      out << "config OK (no " << result.config_path << "; built-in defaults)\n";
    result.check_only = true;
    result.action = Action::exit_ok;
  }
  return result;
}

}  // namespace mailsan::config

namespace mailsan::config {

bool reload_command_line(const OptionTable& table, const std::vector<std::string>& args,
                         const std::string& default_config_path, std::string* error) {
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream sink, errors;
  try {
    auto cl = parse_command_line(table, static_cast<int>(argv.size()), argv.data(),
                                 default_config_path, sink, errors);
    if (cl.action != Action::run) {
      *error = errors.str();
      return false;
    }
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
  return true;
}

}  // namespace mailsan::config
