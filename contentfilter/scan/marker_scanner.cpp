#include "contentfilter/scan/marker_scanner.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <charconv>

#include "common/util/ascii.hpp"

namespace mailsan::filter {
namespace asio = boost::asio;

std::optional<std::string> find_header(const MessageSpool& message, std::string_view name) {
  constexpr std::size_t kHeadLimit = 64 * 1024;
  std::string head(std::min(message.size(), kHeadLimit), '\0');
  head.resize(message.read(0, head.data(), head.size()));
  if (auto end = head.find("\r\n\r\n"); end != std::string::npos) head.resize(end + 2);
  std::size_t pos = 0;
  while (pos < head.size()) {
    std::size_t eol = head.find("\r\n", pos);
    if (eol == std::string::npos) break;
    std::string_view line(head.data() + pos, eol - pos);
    auto colon = line.find(':');
    if (colon != std::string_view::npos && util::iequals(line.substr(0, colon), name)) {
      std::string value(line.substr(colon + 1));
      // Continuation lines start with white space.
      std::size_t next = eol + 2;
      while (next < head.size() && (head[next] == ' ' || head[next] == '\t')) {
        std::size_t e = head.find("\r\n", next);
        if (e == std::string::npos) break;
        value += head.substr(next, e - next);
        next = e + 2;
      }
      std::size_t b = value.find_first_not_of(" \t");
      std::size_t l = value.find_last_not_of(" \t");
      return b == std::string::npos ? std::string() : value.substr(b, l - b + 1);
    }
    pos = eol + 2;
  }
  return std::nullopt;
}

MarkerScanner::MarkerScanner(asio::any_io_executor ex, std::string header)
    : executor_(std::move(ex)), header_(std::move(header)) {}

asio::awaitable<ScanReport> MarkerScanner::scan(ScanInput input) {
  ScanReport r;
  r.scanner = "marker";
  r.checks_viruses = true;
  r.scores_spam = true;
  r.completed = true;
  auto value = find_header(input.message, header_);
  if (!value) co_return r;
  std::string_view v = *value;
  auto space = v.find(' ');
  std::string_view verb = v.substr(0, space);
  std::string_view arg = space == std::string_view::npos ? "" : v.substr(space + 1);
  auto word_ok = [](std::string_view w) {
    if (w.empty() || w.size() > 100) return false;
    for (char c : w)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'))
        return false;
    return true;
  };
  if (verb == "virus" && word_ok(arg)) {
    r.virus = std::string(arg);
  } else if (verb == "spam") {
    double score = 0;
    auto [ptr, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), score);
    if (ec == std::errc{} && ptr == arg.data() + arg.size() && score > -1000 && score < 1000) {
      r.score = score;
      r.rules.push_back("MAILSAN_TEST_MARKER");
    }
  } else if (verb == "fail") {
    r.completed = false;
    r.error = "marker says fail";
  } else if (verb == "slow") {
    int seconds = 0;
    auto [ptr, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), seconds);
    if (ec == std::errc{} && seconds > 0 && seconds <= 600) {
      asio::steady_timer timer(executor_, std::chrono::seconds(seconds));
      auto [wait_ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (wait_ec) {
        r.completed = false;
        r.error = "cancelled";
      }
    }
  }
  co_return r;
}

}  // namespace mailsan::filter
