// The options table's rows and the config-file reader.
//
// The file format is read here rather than by Boost.Program_options'
// parse_config_file because that parser reports no line numbers, and a
// postmaster needs "policyd.conf:12: unknown option 'greylist.dealy'". The
// command line goes through Program_options (command_line.cpp). Config files
// are trusted input (root-owned), but every value still passes the row's
// parser and bounds, so a typo stops the daemon at start-up instead of
// surfacing as odd behaviour later.
#include "common/config/option_table.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include "common/config/values.hpp"

namespace mailsan::config {
namespace {

constexpr std::int64_t kNoMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kNoMax = std::numeric_limits<std::int64_t>::max();

bool valid_name_part(std::string_view part) {
  if (part.empty()) return false;
  return std::all_of(part.begin(), part.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// "key" or "section.key": the names users write, and program_options needs
// them free of ',' (which it reads as "long,short").
bool valid_option_name(std::string_view name) {
  auto dot = name.find('.');
  if (dot == std::string_view::npos) return valid_name_part(name);
  return valid_name_part(name.substr(0, dot)) && valid_name_part(name.substr(dot + 1));
}

std::string format_bound(Kind kind, std::int64_t value) {
  switch (kind) {
    case Kind::duration:
      return format_duration(std::chrono::seconds(value));
    case Kind::size:
      return format_size(value);
    default:
      return std::to_string(value);
  }
}

std::string range_text(Kind kind, std::int64_t min, std::int64_t max) {
  bool has_min = min != kNoMin;
  bool has_max = max != kNoMax;
  if (has_min && has_max) return format_bound(kind, min) + " .. " + format_bound(kind, max);
  if (has_min) return "at least " + format_bound(kind, min);
  if (has_max) return "at most " + format_bound(kind, max);
  return {};
}

void check_bounds(Kind kind, std::int64_t min, std::int64_t max, std::int64_t value,
                  const std::string& text) {
  if (value < min || value > max)
    throw std::invalid_argument("'" + text + "' is out of range (" + range_text(kind, min, max) +
                                ")");
}

Option make_row(std::string name, Kind kind, std::string def, std::string doc, std::int64_t min = 0,
                std::int64_t max = 0) {
  Option row;
  row.name = std::move(name);
  row.kind = kind;
  row.default_value = std::move(def);
  row.min = min;
  row.max = max;
  row.doc = std::move(doc);
  return row;
}

// Stores one value as the file or command line wrote it. A list in append
// mode extends the current items: a repeated key in a file adds to the list.
void apply_value(const Option& row, std::string_view raw, bool append) {
  std::string value(trim(raw));
  // A control character would survive into --dump-config and logs and split
  // a line there; tabs are only blanks.
  for (char c : value)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
      throw std::invalid_argument("the value contains a control character");
  if (append && row.kind == Kind::list) {
    std::string current = row.current();
    if (value.empty())
      value = current;
    else if (!current.empty())
      value = current + ", " + value;
  }
  row.assign(value);
}

std::string at(const std::string& path, int line) {
  return path + ":" + std::to_string(line) + ": ";
}

}  // namespace

std::string describe_range(const Option& option) {
  if (option.kind != Kind::integer && option.kind != Kind::duration && option.kind != Kind::size &&
      option.kind != Kind::number)
    return {};
  return range_text(option.kind, option.min, option.max);
}

OptionTable& OptionTable::add(Option option) {
  if (!valid_option_name(option.name))
    throw std::logic_error("option name '" + option.name +
                           "' must be key or section.key of [a-z0-9_]");
  if (find(option.name)) throw std::logic_error("option '" + option.name + "' added twice");
  if (option.doc.empty() || option.doc.find('\n') != std::string::npos)
    throw std::logic_error("option '" + option.name + "' needs a one-line doc");
  if (option.min > option.max)
    throw std::logic_error("option '" + option.name + "': minimum above maximum");
  try {
    apply_value(option, option.default_value, false);
  } catch (const std::invalid_argument& e) {
    throw std::logic_error("option '" + option.name + "': bad default: " + e.what());
  }
  options_.push_back(std::move(option));
  return *this;
}

OptionTable& OptionTable::add_string(std::string name, std::string* target, std::string def,
                                     std::string doc) {
  Option row = make_row(std::move(name), Kind::string, std::move(def), std::move(doc));
  row.assign = [target](const std::string& v) { *target = v; };
  row.current = [target] { return *target; };
  return add(std::move(row));
}

OptionTable& OptionTable::add_integer(std::string name, std::int64_t* target, std::int64_t def,
                                      std::int64_t min, std::int64_t max, std::string doc) {
  Option row =
      make_row(std::move(name), Kind::integer, std::to_string(def), std::move(doc), min, max);
  row.assign = [target, min, max](const std::string& v) {
    std::int64_t value = parse_integer(v);
    check_bounds(Kind::integer, min, max, value, v);
    *target = value;
  };
  row.current = [target] { return std::to_string(*target); };
  return add(std::move(row));
}

OptionTable& OptionTable::add_bool(std::string name, bool* target, bool def, std::string doc) {
  Option row = make_row(std::move(name), Kind::boolean, def ? "yes" : "no", std::move(doc));
  row.assign = [target](const std::string& v) { *target = parse_bool(v); };
  row.current = [target] { return std::string(*target ? "yes" : "no"); };
  return add(std::move(row));
}

OptionTable& OptionTable::add_duration(std::string name, std::chrono::seconds* target,
                                       std::chrono::seconds def, std::chrono::seconds min,
                                       std::chrono::seconds max, std::string doc) {
  Option row = make_row(std::move(name), Kind::duration, std::to_string(def.count()),
                        std::move(doc), min.count(), max.count());
  row.assign = [target, min, max](const std::string& v) {
    std::chrono::seconds value = parse_duration(v);
    check_bounds(Kind::duration, min.count(), max.count(), value.count(), v);
    *target = value;
  };
  row.current = [target] { return std::to_string(target->count()); };
  return add(std::move(row));
}

OptionTable& OptionTable::add_size(std::string name, std::int64_t* target, std::int64_t def,
                                   std::int64_t min, std::int64_t max, std::string doc) {
  Option row = make_row(std::move(name), Kind::size, std::to_string(def), std::move(doc), min, max);
  row.assign = [target, min, max](const std::string& v) {
    std::int64_t value = parse_size(v);
    check_bounds(Kind::size, min, max, value, v);
    *target = value;
  };
  row.current = [target] { return std::to_string(*target); };
  return add(std::move(row));
}

OptionTable& OptionTable::add_number(std::string name, double* target, double def, std::int64_t min,
                                     std::int64_t max, std::string doc) {
  Option row =
      make_row(std::move(name), Kind::number, format_number(def), std::move(doc), min, max);
  row.assign = [target, min, max](const std::string& v) {
    double value = parse_number(v);
    if (value < static_cast<double>(min) || value > static_cast<double>(max))
      throw std::invalid_argument("'" + v + "' is out of range (" +
                                  range_text(Kind::number, min, max) + ")");
    *target = value;
  };
  row.current = [target] { return format_number(*target); };
  return add(std::move(row));
}

OptionTable& OptionTable::add_list(std::string name, std::vector<std::string>* target,
                                   std::string def, std::string doc) {
  Option row = make_row(std::move(name), Kind::list, std::move(def), std::move(doc));
  row.assign = [target](const std::string& v) { *target = split_list(v); };
  row.current = [target] { return join_list(*target); };
  return add(std::move(row));
}

OptionTable& OptionTable::add_choice(std::string name, std::string* target, std::string def,
                                     std::vector<std::string> choices, std::string doc) {
  if (choices.empty()) throw std::logic_error("option '" + name + "' has no choices");
  Option row = make_row(std::move(name), Kind::string, std::move(def), std::move(doc));
  row.choices = choices;
  row.assign = [target, choices = std::move(choices)](const std::string& v) {
    if (std::find(choices.begin(), choices.end(), v) == choices.end())
      throw std::invalid_argument("'" + v + "' is not one of " + join_list(choices));
    *target = v;
  };
  row.current = [target] { return *target; };
  return add(std::move(row));
}

OptionTable& OptionTable::with_check(std::function<void(const std::string&)> check) {
  if (options_.empty()) throw std::logic_error("with_check() before any option");
  Option& row = options_.back();
  try {
    check(std::string(trim(row.default_value)));
  } catch (const std::invalid_argument& e) {
    throw std::logic_error("option '" + row.name + "': bad default: " + e.what());
  }
  row.assign = [inner = std::move(row.assign), check = std::move(check)](const std::string& v) {
    check(v);
    inner(v);
  };
  return *this;
}

OptionTable& OptionTable::restart_only() {
  if (options_.empty()) throw std::logic_error("restart_only() before any option");
  options_.back().restart_only = true;
  return *this;
}

const Option* OptionTable::find(const std::string& name) const {
  for (const auto& row : options_)
    if (row.name == name) return &row;
  return nullptr;
}

OptionTable& OptionTable::add_moved(std::string old_name, std::string new_name) {
  if (find(old_name)) throw std::logic_error("moved option '" + old_name + "' is still a row");
  if (!find(new_name))
    throw std::logic_error("option '" + old_name + "' moved to unknown '" + new_name + "'");
  moved_.emplace_back(std::move(old_name), std::move(new_name));
  return *this;
}

std::string OptionTable::moved_message(const std::string& name) const {
  for (const auto& [old_name, new_name] : moved_) {
    if (old_name != name) continue;
    auto dot = new_name.find('.');
    std::string where = dot == std::string::npos
                            ? new_name + " at the top, before any [section]"
                            : new_name.substr(dot + 1) + " under [" + new_name.substr(0, dot) + "]";
    return old_name + " has moved: write it as " + where;
  }
  return {};
}

bool OptionTable::has_section(const std::string& section) const {
  const std::string prefix = section + ".";
  return std::any_of(options_.begin(), options_.end(),
                     [&](const Option& row) { return row.name.starts_with(prefix); }) ||
         std::any_of(moved_.begin(), moved_.end(),
                     [&](const auto& m) { return m.first.starts_with(prefix); });
}

std::string OptionTable::program_name() const {
  return daemon_.starts_with("mailsan") ? daemon_ : "mailsan-" + daemon_;
}

std::string OptionTable::config_file_name() const {
  std::string base = daemon_.starts_with("mailsan-") ? daemon_.substr(8) : daemon_;
  return base + ".conf";
}

void load_file(const OptionTable& table, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw ConfigError("cannot read " + path + ": it is a directory");
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot open " + path + ": " + std::strerror(errno));

  std::string section;
  std::map<std::string, int> set_at_line;  // option name -> first line that set it
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string_view text = trim(line);
    // '#' starts a comment only at the beginning of a line (as in Postfix's
    // main.cf), so values such as passwords or LDAP filters may contain it.
    if (text.empty() || text.front() == '#') continue;

    if (text.front() == '[') {
      if (text.back() != ']')
        throw ConfigError(at(path, number) + "expected ']' after section name");
      std::string name(trim(text.substr(1, text.size() - 2)));
      if (name.empty()) throw ConfigError(at(path, number) + "empty section name");
      if (!table.has_section(name))
        throw ConfigError(at(path, number) + "unknown section '[" + name + "]'");
      section = std::move(name);
      continue;
    }

    auto equals = text.find('=');
    if (equals == std::string_view::npos)
      throw ConfigError(at(path, number) + "expected 'key = value' or '[section]'");
    std::string key(trim(text.substr(0, equals)));
    if (key.empty()) throw ConfigError(at(path, number) + "missing option name before '='");
    std::string name = section.empty() ? key : section + "." + key;
    const Option* row = table.find(name);
    if (!row) {
      std::string moved = table.moved_message(name);
      if (!moved.empty()) throw ConfigError(at(path, number) + moved);
      throw ConfigError(at(path, number) + "unknown option '" + name + "'");
    }

    auto [previous, first_time] = set_at_line.emplace(name, number);
    // A repeated scalar is almost always a missing [section] header above it,
    // so it is an error rather than "the last one wins".
    if (!first_time && row->kind != Kind::list)
      throw ConfigError(at(path, number) + "option '" + name + "' is already set at line " +
                        std::to_string(previous->second));
    try {
      apply_value(*row, text.substr(equals + 1), !first_time);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(at(path, number) + "option '" + name + "': " + e.what());
    }
  }
  if (in.bad()) throw ConfigError("cannot read " + path + ": " + std::strerror(errno));
}

void apply_overrides(const OptionTable& table,
                     const std::vector<std::pair<std::string, std::string>>& kv) {
  std::set<std::string> seen;
  for (const auto& [name, value] : kv) {
    const Option* row = table.find(name);
    if (!row) {
      std::string moved = table.moved_message(name);
      if (!moved.empty()) throw ConfigError("command line: " + moved);
      throw ConfigError("command line: unknown option '" + name + "'");
    }
    bool first_time = seen.insert(name).second;
    try {
      apply_value(*row, value, !first_time);
    } catch (const std::invalid_argument& e) {
      throw ConfigError("command line: option '" + name + "': " + e.what());
    }
  }
}

std::vector<std::string> keep_restart_only(const OptionTable& running, const OptionTable& fresh) {
  std::vector<std::string> kept;
  for (const auto& row : fresh.options()) {
    if (!row.restart_only) continue;
    const Option* now = running.find(row.name);
    if (!now) continue;
    std::string running_value = now->current();
    if (row.current() == running_value) continue;
    // The running value passed this row's parser and checks at start, and
    // current() writes it in the form assign() reads.
    row.assign(running_value);
    kept.push_back(row.name);
  }
  return kept;
}

void reset_to_defaults(const OptionTable& table) {
  for (const auto& row : table.options()) apply_value(row, row.default_value, false);
}

}  // namespace mailsan::config
