// One sender-address verification callout (SPEC §2.1 step 5), milter-sender
// style: the sender domain's MX hosts in preference order (its A/AAAA
// records when it has no MX), EHLO (HELO when EHLO is refused),
// `MAIL FROM:<>`, `RCPT TO:<sender>`, QUIT. Never DATA: nothing is ever
// delivered. A 5xx to RCPT is "invalid", a 2xx "valid"; anything that does
// not end in either (refused connections, 4xx, timeouts, no MX answering) is
// "unknown", which only greylists.
//
// SECURITY: it talks to arbitrary servers on the Internet. Their replies go
// through the bounded SMTP reply codec; every step has its own deadline and
// the whole callout one more; the address is checked before it is put on a
// command line.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>

#include "common/dns/resolver.hpp"
#include "policyd/callout/callout_result.hpp"

namespace mailsan::policyd {

struct ProbeSettings {
  unsigned short port = 25;
  std::string helo;
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds command_timeout{20000};
  std::chrono::milliseconds total_timeout{60000};
  int max_mx = 3;                // MX hosts tried
  int max_addresses_per_mx = 2;  // addresses tried per MX host
};

// True when the address can go into `RCPT TO:<...>` as it is: no controls,
// spaces or angle brackets, at most 254 bytes, one '@' with both sides
// non-empty.
bool callout_address_ok(std::string_view address);

class CalloutProber {
 public:
  CalloutProber(boost::asio::any_io_executor ex, dns::Resolver& resolver);
  // Never throws for what the network does; the verdict says it.
  boost::asio::awaitable<CalloutResult> verify(std::string address, std::string domain,
                                               ProbeSettings settings);

 private:
  struct Target {
    int preference = 0;
    std::string host;
  };
  boost::asio::awaitable<CalloutResult> run(std::string address, std::string domain,
                                            ProbeSettings settings);
  boost::asio::awaitable<CalloutResult> talk(const std::string& address, const Target& target,
                                             const std::string& ip, const ProbeSettings& s);

  boost::asio::any_io_executor executor_;
  dns::Resolver& resolver_;
};

}  // namespace mailsan::policyd
