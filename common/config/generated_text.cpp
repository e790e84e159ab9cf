// Text generated from an options table: --help, --dump-config, the example
// config file and the Markdown reference. All four walk the same rows, so the
// documentation cannot drift from what the parser accepts.
#include <algorithm>
#include <sstream>

#include "common/config/option_table.hpp"
#include "common/config/values.hpp"

namespace mailsan::config {
namespace {

struct Section {
  std::string name;  // empty for the top of the file
  std::vector<const Option*> rows;
};

// Top-level rows first (in a file they must come before any [section]
// header), then each section in the order the table first mentions it.
std::vector<Section> sections_of(const OptionTable& table) {
  std::vector<Section> out{Section{}};
  for (const auto& row : table.options()) {
    auto dot = row.name.find('.');
    std::string section = dot == std::string::npos ? std::string() : row.name.substr(0, dot);
    auto it =
        std::find_if(out.begin(), out.end(), [&](const Section& s) { return s.name == section; });
    if (it == out.end()) it = out.insert(out.end(), Section{section, {}});
    it->rows.push_back(&row);
  }
  if (out.front().rows.empty()) out.erase(out.begin());
  return out;
}

std::string key_of(const Option& row) {
  auto dot = row.name.find('.');
  return dot == std::string::npos ? row.name : row.name.substr(dot + 1);
}

std::string type_name(const Option& row) {
  if (!row.choices.empty()) return "choice";
  switch (row.kind) {
    case Kind::string:
      return "string";
    case Kind::integer:
      return "integer";
    case Kind::boolean:
      return "yes/no";
    case Kind::duration:
      return "duration";
    case Kind::size:
      return "size";
    case Kind::list:
      return "list";
    case Kind::number:
      return "number";
  }
  return "string";
}

std::string placeholder(const Option& row) {
  if (!row.choices.empty()) {
    std::string out;
    for (const auto& c : row.choices) out += (out.empty() ? "" : "|") + c;
    return out;
  }
  switch (row.kind) {
    case Kind::string:
      return "TEXT";
    case Kind::integer:
      return "N";
    case Kind::boolean:
      return "yes|no";
    case Kind::duration:
      return "DURATION";
    case Kind::size:
      return "SIZE";
    case Kind::list:
      return "LIST";
    case Kind::number:
      return "NUMBER";
  }
  return "TEXT";
}

// The default as written in the file, with the unit form alongside when it
// reads better ("300 (5m)").
std::string default_text(const Option& row) {
  const std::string& def = row.default_value;
  if (def.empty()) return "(empty)";
  try {
    if (row.kind == Kind::duration) {
      std::string unit = format_duration(parse_duration(def));
      // Always with the unit, so that "2" is not read as minutes.
      if (unit != def) return def + " (" + unit + ")";
    } else if (row.kind == Kind::size) {
      std::string unit = format_size(parse_size(def));
      if (unit != def) return def + " (" + unit + ")";
    }
  } catch (const std::invalid_argument&) {
    // Defaults were checked when the row was added; keep the text as it is.
  }
  return def;
}

// "default: 300 (5m), range: 0s .. 1d" / "default: reject, one of: reject, tag"
std::string default_and_bounds(const Option& row) {
  std::string out = "default: " + default_text(row);
  std::string range = describe_range(row);
  if (!range.empty()) out += ", range: " + range;
  if (!row.choices.empty()) out += ", one of: " + join_list(row.choices);
  return out;
}

// The doc line, with "(restart)" for a row a SIGHUP does not change.
std::string doc_line(const Option& row) {
  return row.restart_only ? row.doc + " (restart)" : row.doc;
}

std::string assignment(const std::string& key, const std::string& value) {
  return value.empty() ? key + " =" : key + " = " + value;
}

std::string markdown_cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string help_text(const OptionTable& table, const std::string& program,
                      const std::string& default_config_path) {
  std::ostringstream out;
  out << "Usage: " << program << " [-c FILE] [--OPTION=VALUE ...]\n"
      << "       " << program << " --help | --version | --dump-config | --check-config\n\n"
      << "General options:\n"
      << "  -c, --config FILE     config file (default: " << default_config_path << ")\n"
      << "  -h, --help            print this help and exit\n"
      << "  --version             print the version and exit\n"
      << "  --dump-config         print the effective configuration and exit\n"
      << "  --check-config        load and check the configuration, then exit\n"
      << "  --example-config      print the commented example config file and exit\n"
      << "  --markdown-reference  print the option reference in Markdown and exit\n\n"
      << "Settings. In the config file write \"key = value\" under \"[section]\"; on the\n"
      << "command line --section.key=VALUE (or --section.key VALUE) overrides the file.\n"
      << "Durations are seconds or take a suffix s, m, h, d, w; sizes are bytes or take\n"
      << "a suffix k, m, g; lists are separated by commas or spaces. \"(restart)\" marks\n"
      << "a setting that a reload (SIGHUP) leaves as it was until the next start.\n";
  for (const auto& section : sections_of(table)) {
    out << "\n"
        << (section.name.empty() ? std::string("Top of the file") : "[" + section.name + "]")
        << ":\n";
    for (const Option* row : section.rows) {
      out << "  --" << row->name << "=" << placeholder(*row) << "\n"
          << "      " << doc_line(*row) << "\n"
          << "      " << default_and_bounds(*row) << "\n";
    }
  }
  return out.str();
}

std::string dump(const OptionTable& table) {
  std::ostringstream out;
  out << "# Effective configuration of " << table.program_name() << "\n";
  for (const auto& section : sections_of(table)) {
    if (!section.name.empty()) out << "\n[" << section.name << "]\n";
    for (const Option* row : section.rows) out << assignment(key_of(*row), row->current()) << "\n";
  }
  return out.str();
}

std::string example_file(const OptionTable& table) {
  const std::string program = table.program_name();
  const std::string file = table.config_file_name();
  std::ostringstream out;
  out << "# " << file << " example, generated from the options table of " << program << ".\n"
      << "# Regenerate it with: " << program << " --example-config > etc/" << file << ".example\n"
      << "#\n"
      << "# \"key = value\" lines; \"[section]\" starts a section; '#' starts a comment\n"
      << "# only at the beginning of a line. Durations are seconds or a number with a\n"
      << "# suffix s, m, h, d or w (5m, 2d); sizes are bytes or a number with a suffix\n"
      << "# k, m or g. Lists are separated by commas or spaces; repeating a list key\n"
      << "# adds to the list. Each setting is shown with its default, commented out.\n"
      << "# \"(restart)\" marks a setting that a reload (SIGHUP) leaves as it was: it\n"
      << "# takes effect at the next start.\n";
  for (const auto& section : sections_of(table)) {
    if (!section.name.empty()) out << "\n[" << section.name << "]\n";
    for (const Option* row : section.rows) {
      out << "\n# " << doc_line(*row) << "\n";
      bool has_bounds = row->kind == Kind::integer || row->kind == Kind::duration ||
                        row->kind == Kind::size || row->kind == Kind::number ||
                        !row->choices.empty();
      if (has_bounds) out << "# " << default_and_bounds(*row) << "\n";
      out << "#" << assignment(key_of(*row), row->default_value) << "\n";
    }
  }
  return out.str();
}

std::string markdown_reference(const OptionTable& table) {
  const std::string program = table.program_name();
  std::ostringstream out;
  out << "<!-- Generated from the options table of " << program << " by `" << program
      << " --markdown-reference`; do not edit by hand. -->\n\n"
      << "## Options of " << program << "\n\n"
      << "\"(restart)\" after a description: a reload (SIGHUP) leaves the setting as it was; "
         "it takes effect at the next start.\n";
  for (const auto& section : sections_of(table)) {
    out << "\n### "
        << (section.name.empty() ? std::string("Top of the file (no section)")
                                 : "`[" + section.name + "]`")
        << "\n\n"
        << "| name | type | default | range | description |\n"
        << "|---|---|---|---|---|\n";
    for (const Option* row : section.rows) {
      std::string range = describe_range(*row);
      if (!row->choices.empty()) range = "one of: " + join_list(row->choices);
      std::string def = row->default_value.empty()
                            ? std::string("(empty)")
                            : "`" + row->default_value + "`" +
                                  default_text(*row).substr(row->default_value.size());
      out << "| `" << markdown_cell(key_of(*row)) << "` | " << type_name(*row) << " | "
          << markdown_cell(def) << " | " << markdown_cell(range) << " | "
          << markdown_cell(doc_line(*row)) << " |\n";
    }
  }
  return out.str();
}

}  // namespace mailsan::config
