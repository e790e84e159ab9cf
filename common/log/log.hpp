// Logging: one line per event to stderr or syslog (mail facility). Decisions
// are logged as key=value pairs so they can be grepped and parsed:
//
//   log::info("decision").kv("client", ip).kv("verdict", "defer").kv("ms", 1.2);
//
// The line is written when the temporary Line goes out of scope, as
//
//   2024-05-01T12:00:00.123Z mailsan-policyd[4242] info decision client=192.0.2.1 verdict=defer
//   ms=1.200
//
// on stderr (UTC timestamp, ident[pid], level), or "info decision ..." through
// syslog(3) with LOG_MAIL and LOG_PID, which adds its own time and ident.
// Thread-safe: each line is one write()/syslog() call.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mailsan::log {

enum class Level { debug, info, warning, error };
enum class Sink { standard_error, syslog };

// Called once at start-up (and again on reload). ident is the program name.
void init(std::string ident, Sink sink, Level min_level);
// Parses "debug", "info", "warning", "error"; returns false on anything else.
bool parse_level(std::string_view text, Level* out);
Level min_level();

class Line {
 public:
  Line(Level level, std::string_view event);
  ~Line();
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;

  // Values with spaces, quotes, '=' or control characters are quoted and
  // escaped, so one logged line is always one parseable line.
  Line& kv(std::string_view key, std::string_view value);
  Line& kv(std::string_view key, const char* value) { return kv(key, std::string_view(value)); }
  Line& kv(std::string_view key, const std::string& value) {
    return kv(key, std::string_view(value));
  }
  Line& kv(std::string_view key, std::int64_t value);
  Line& kv(std::string_view key, int value) { return kv(key, static_cast<std::int64_t>(value)); }
  Line& kv(std::string_view key, std::uint64_t value);
  Line& kv(std::string_view key, double value);  // three decimals
  Line& kv(std::string_view key, bool value);

 private:
  Level level_;
  bool enabled_;
  std::string text_;
};

inline Line debug(std::string_view event) {
  return Line(Level::debug, event);
}
inline Line info(std::string_view event) {
  return Line(Level::info, event);
}
inline Line warning(std::string_view event) {
  return Line(Level::warning, event);
}
inline Line error(std::string_view event) {
  return Line(Level::error, event);
}

// The escaping used by Line::kv, exposed for tests.
std::string format_value(std::string_view value);

}  // namespace mailsan::log
