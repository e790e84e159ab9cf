// Logging to stderr or syslog, one key=value line per event.
//
// SECURITY: values come from untrusted SMTP clients (HELO names, addresses,
// attribute values). format_value() quotes and escapes them so that a client
// cannot end a log line early, forge a second one, or smuggle terminal
// control sequences into an operator's terminal.
#include "common/log/log.hpp"

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <list>
#include <mutex>

namespace mailsan::log {
namespace {

struct State {
  std::mutex mutex;  // guards ident and sink changes made by init()
  std::string ident = "mailsan";
  Sink sink = Sink::standard_error;
  // openlog() keeps the pointer it is given, and another thread may be
  // inside syslog() while init() runs again on reload, so every ident ever
  // passed stays alive (one short string per reload).
  std::list<std::string> syslog_idents;
};

State& state() {
  static State s;
  return s;
}

std::atomic<Level> g_min_level{Level::info};

const char* level_name(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warning:
      return "warning";
    case Level::error:
      return "error";
  }
  return "info";
}

int syslog_priority(Level level) {
  switch (level) {
    case Level::debug:
      return LOG_DEBUG;
    case Level::info:
      return LOG_INFO;
    case Level::warning:
      return LOG_WARNING;
    case Level::error:
      return LOG_ERR;
  }
  return LOG_INFO;
}

// Length of the well-formed UTF-8 sequence at value[i] (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0 when the
// bytes there are not one.
std::size_t utf8_length(std::string_view value, std::size_t i) {
  auto at = [&](std::size_t k) -> unsigned {
    return i + k < value.size() ? static_cast<unsigned char>(value[i + k]) : 0u;
  };
  auto tail = [&](std::size_t k) { return (at(k) & 0xc0) == 0x80; };
  unsigned b0 = at(0), b1 = at(1);
  if (b0 < 0x80) return 1;
  if (b0 >= 0xc2 && b0 <= 0xdf) return tail(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    bool second_ok = b0 == 0xe0   ? (b1 >= 0xa0 && b1 <= 0xbf)
                     : b0 == 0xed ? (b1 >= 0x80 && b1 <= 0x9f)
                                  : tail(1);
    return second_ok && tail(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    bool second_ok = b0 == 0xf0   ? (b1 >= 0x90 && b1 <= 0xbf)
                     : b0 == 0xf4 ? (b1 >= 0x80 && b1 <= 0x8f)
                                  : tail(1);
    return second_ok && tail(2) && tail(3) ? 4 : 0;
  }
  return 0;
}

// C1 controls (U+0080..U+009F, in UTF-8 C2 80..C2 9F): some terminals obey
// them as they do ESC sequences (U+009B is CSI), and U+0085 ends a line.
bool is_c1(std::string_view value, std::size_t i) {
  return static_cast<unsigned char>(value[i]) == 0xc2 && i + 1 < value.size() &&
         static_cast<unsigned char>(value[i + 1]) <= 0x9f;
}

bool is_ascii_control(unsigned char u) {
  return u < 0x20 || u == 0x7f;
}

bool needs_quotes(std::string_view value) {
  if (value.empty()) return true;
  for (std::size_t i = 0; i < value.size();) {
    char c = value[i];
    auto u = static_cast<unsigned char>(c);
    if (u < 0x80) {
      if (is_ascii_control(u) || c == ' ' || c == '"' || c == '=') return true;
      ++i;
      continue;
    }
    std::size_t n = utf8_length(value, i);
    if (n == 0 || is_c1(value, i)) return true;
    i += n;
  }
  return false;
}

// Keys come from code, but a stray space or '=' would still make the line
// ambiguous, so such characters become '_'; keys are ASCII, so bytes above
// it do too (no key can carry a C1 control or broken UTF-8).
void append_key(std::string& out, std::string_view key) {
  for (char c : key) {
    auto u = static_cast<unsigned char>(c);
    out += (u <= 0x20 || u >= 0x7f || c == '"' || c == '=') ? '_' : c;
  }
}

void append_hex_escape(std::string& out, unsigned char u) {
  constexpr char hex[] = "0123456789abcdef";
  out += "\\x";
  out += hex[u >> 4];
  out += hex[u & 0xf];
}

// "2024-05-01T12:00:00.123Z": UTC so that lines from every MX sort together.
std::string timestamp() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc{};
  gmtime_r(&now.tv_sec, &utc);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof buf - n, ".%03ldZ", now.tv_nsec / 1000000);
  return buf;
}

// One write() per line: lines from threads (and processes sharing the fd)
// never interleave mid-line. A short write is only retried for the rest.
void write_line(const std::string& line) {
  const char* data = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere left to report a failing stderr
    data += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace

void init(std::string ident, Sink sink, Level min_level) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (s.sink == Sink::syslog) closelog();
  s.ident = std::move(ident);
  s.sink = sink;
  if (sink == Sink::syslog) {
    s.syslog_idents.push_back(s.ident);
    openlog(s.syslog_idents.back().c_str(), LOG_PID | LOG_NDELAY, LOG_MAIL);
  }
  g_min_level.store(min_level, std::memory_order_relaxed);
}

bool parse_level(std::string_view text, Level* out) {
  for (Level level : {Level::debug, Level::info, Level::warning, Level::error}) {
    if (text == level_name(level)) {
      *out = level;
      return true;
    }
  }
  return false;
}

Level min_level() {
  return g_min_level.load(std::memory_order_relaxed);
}

std::string format_value(std::string_view value) {
  if (!needs_quotes(value)) return std::string(value);
  std::string out;
  out.reserve(value.size() + 2);
  out += '"';
  for (std::size_t i = 0; i < value.size();) {
    char c = value[i];
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      // Every byte of a C1 control or of bytes that are not UTF-8 is
      // written as \xNN, so the line is valid UTF-8 and reads back byte for
      // byte; well-formed text (names, IDN, SMTPUTF8 addresses) stays as it is.
      std::size_t n = utf8_length(value, i);
      if (n == 0) {
        append_hex_escape(out, u);
        ++i;
      } else if (is_c1(value, i)) {
        append_hex_escape(out, u);
        append_hex_escape(out, static_cast<unsigned char>(value[i + 1]));
        i += 2;
      } else {
        out.append(value.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (is_ascii_control(u))
          append_hex_escape(out, u);
        else
          out += c;
    }
    ++i;
  }
  out += '"';
  return out;
}

Line::Line(Level level, std::string_view event) : level_(level), enabled_(level >= min_level()) {
  if (enabled_) text_ = format_value(event);
}

Line::~Line() {
  if (!enabled_) return;
  State& s = state();
  std::unique_lock lock(s.mutex);
  // Both sinks carry the level in the text too: /var/log/mail.log usually
  // does not show syslog priorities, and the lines should read the same.
  if (s.sink == Sink::syslog) {
    lock.unlock();
    syslog(syslog_priority(level_), "%s %s", level_name(level_), text_.c_str());
    return;
  }
  std::string line = timestamp() + " " + s.ident + "[" + std::to_string(getpid()) + "] " +
                     level_name(level_) + " " + text_ + "\n";
  lock.unlock();
  write_line(line);
}

Line& Line::kv(std::string_view key, std::string_view value) {
  if (!enabled_) return *this;
  text_ += ' ';
  append_key(text_, key);
  text_ += '=';
  text_ += format_value(value);
  return *this;
}

Line& Line::kv(std::string_view key, std::int64_t value) {
  return kv(key, std::to_string(value));
}

Line& Line::kv(std::string_view key, std::uint64_t value) {
  return kv(key, std::to_string(value));
}

Line& Line::kv(std::string_view key, double value) {
  if (!std::isfinite(value)) return kv(key, std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", value);
  return kv(key, std::string_view(buf));
}

Line& Line::kv(std::string_view key, bool value) {
  return kv(key, value ? "yes" : "no");
}

}  // namespace mailsan::log
