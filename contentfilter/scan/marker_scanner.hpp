// A scanner for tests and for checking a deployment's wiring: the message's
// own header (marker.header, "X-Mailsan-Test-Verdict" by default) says what
// it finds — "virus NAME", "spam SCORE", "fail" (the scanner cannot say),
// "slow SECONDS" (it takes that long) — so the proxy's every path can be
// exercised before the real scanners are in. Off by default.
//
// SECURITY: whoever sends the message chooses the verdict; only ever enable
// it on a test instance. Names and scores are checked and bounded before
// they reach a reply or a header.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "contentfilter/scan/scanner.hpp"

namespace mailsan::filter {

// The value of the first header `name` in the message head (up to the first
// empty line, at most the first 64 KiB), unfolded; nullopt when absent.
std::optional<std::string> find_header(const MessageSpool& message, std::string_view name);

class MarkerScanner : public Scanner {
 public:
  MarkerScanner(boost::asio::any_io_executor ex, std::string header);
  std::string_view name() const override { return "marker"; }
  FailureMode failure_mode() const override { return FailureMode::closed; }
  std::string unavailable_reply() const override {
    return "451 4.3.0 Message scan temporarily unavailable";
  }
  boost::asio::awaitable<ScanReport> scan(ScanInput input) override;

 private:
  boost::asio::any_io_executor executor_;
  std::string header_;
};

}  // namespace mailsan::filter
