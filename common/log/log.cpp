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

bool needs_quotes(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == ' ' || c == '"' || c == '=') return true;
  }
  return false;
}

// Keys come from code, but a stray space or '=' would still make the line
// ambiguous, so such characters become '_'.
void append_key(std::string& out, std::string_view key) {
  for (char c : key) {
    auto u = static_cast<unsigned char>(c);
    out += (u <= 0x20 || u == 0x7f || c == '"' || c == '=') ? '_' : c;
  }
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
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
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
        if (u < 0x20 || u == 0x7f) {
          constexpr char hex[] = "0123456789abcdef";
          out += "\\x";
          out += hex[u >> 4];
          out += hex[u & 0xf];
        } else {
          out += c;
        }
    }
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
