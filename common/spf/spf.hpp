// Sender Policy Framework (RFC 7208): check_host() for the MAIL FROM identity,
// or the HELO identity for the null sender. Complete: every mechanism and
// modifier, macro expansion, exp= explanations, the limit of 10 DNS-querying
// terms and of 2 void lookups.
//
// The evaluator does no I/O of its own: it asks a DnsSource, so the daemons
// give it the async resolver and the tests give it the RFC 7208 test
// suite's zone data.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/dns/resolver.hpp"
#include "common/net/cidr.hpp"

namespace mailsan::spf {

enum class Result { none, neutral, pass, fail, softfail, temperror, permerror };
std::string_view to_string(Result result);  // "pass", "softfail", ...

class DnsSource {
 public:
  virtual ~DnsSource() = default;
  virtual boost::asio::awaitable<dns::Answer> query(std::string_view name,
                                                    dns::RecordType type) = 0;
};

struct Request {
  net::IpAddress ip;           // the SMTP client
  std::string sender;          // MAIL FROM without <>; empty: the null sender
  std::string helo;            // HELO/EHLO name
  std::string receiver;        // this MX's name, for %{r}
  std::int64_t timestamp = 0;  // seconds since the epoch, for %{t}; 0: now
};

struct Outcome {
  Result result = Result::none;
  std::string identity;     // "mailfrom" or "helo"
  std::string domain;       // the domain check_host() started with
  std::string mechanism;    // the matching term, or "default"
  std::string explanation;  // for fail: the exp= text, or the default explanation
  std::string problem;      // for permerror/temperror: what went wrong
};

struct Limits {
  int dns_mechanisms = 10;  // RFC 7208 §4.6.4
  int void_lookups = 2;
};

// The explanation of a fail when the record has none that works (§6.2
// leaves it to the receiver): a macro-string, expanded like exp= text.
inline constexpr std::string_view kDefaultExplanation =
    "See https://www.open-spf.org/Why?id=%{S}&ip=%{C}&r=%{R}";

boost::asio::awaitable<Outcome> check(const Request& request, DnsSource& dns, Limits limits = {});

// The RFC 7208 §9.1 header (without a line break), e.g.
// "Received-SPF: pass (mx1.example.com: domain of a@example.net designates
// 192.0.2.1 as permitted sender) client-ip=192.0.2.1; envelope-from=...".
std::string received_spf_header(const Outcome& outcome, const Request& request);

}  // namespace mailsan::spf
