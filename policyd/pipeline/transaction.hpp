// What the checks of one policy request share: the request, facts the
// lookups found, and the per-connection memory of which headers a message
// already got.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/net/cidr.hpp"
#include "policyd/protocol/policy_request.hpp"

namespace mailsan::policyd {

// Postfix sends every request of one SMTP session over the same policy
// connection, so "once per message" state lives with the connection, keyed by
// the message's `instance`.
class MessageHeaders {
 public:
  // Starts a new message when `instance` differs from the current one.
  void begin(std::string_view instance);
  // Queues a header unless one with the same name was queued or emitted for
  // this message already.
  void add(std::string header);
  // The next due header, or empty when none is due; marks it emitted.
  std::string next();

 private:
  static std::string_view name_of(std::string_view header);
  std::string instance_;
  std::vector<std::string> due_;
  std::vector<std::string> names_;  // queued or emitted for this message
};

struct CheckTiming {
  std::string_view check;
  double milliseconds;
};

struct Transaction {
  explicit Transaction(const PolicyRequest& r) : request(r) {}

  const PolicyRequest& request;
  std::optional<net::IpAddress> client_ip;  // nullopt when Postfix sent none usable

  bool skip_all = false;        // whitelisted client: nothing else runs
  bool skip_greylist = false;   // whitelisted recipient (and later: DNSWL, SPF pass)
  std::vector<std::string> headers;  // headers a check wants prepended
  std::vector<std::string> notes;    // "greylist=pass" etc., for the decision log
  std::vector<CheckTiming> timings;
};

// A decisive outcome; the first one in pipeline order wins.
struct Decision {
  std::string action;  // the policy action, e.g. "DEFER_IF_PERMIT 4.7.1 ..."
  std::string verdict; // metrics and log label: defer, reject, skip, ...
  std::string reason;  // which check and why, for the log
};

}  // namespace mailsan::policyd
