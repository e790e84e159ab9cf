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
#include "common/spf/spf.hpp"
#include "policyd/callout/callout_result.hpp"
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
  // When the request arrived: checks that wait in decide() (the callout)
  // measure what is left of request_timeout from here.
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::optional<net::IpAddress> client_ip;  // nullopt when Postfix sent none usable

  bool skip_all = false;       // whitelisted client: nothing else runs
  bool skip_greylist = false;  // whitelisted recipient, DNSWL (and later: SPF pass)
  bool skip_callout = false;   // DNSWL score at or below [rbl] skip_score, SPF pass
  // DNSBL scoring forces greylisting even where it would be skipped (a
  // whitelisted recipient, the auto-whitelist), with its own delay.
  bool force_greylist = false;
  std::optional<std::chrono::seconds> greylist_delay;

  // What recipient validation found (SPEC §2.1 step 2). not_checked also
  // means the lookup never finished, which for a local domain must not pass.
  enum class RecipientStatus { not_checked, not_local, found, unknown, unavailable };
  RecipientStatus recipient_status = RecipientStatus::not_checked;
  std::string recipient_detail;  // which search matched (exact, detail, alias, ...) or why not

  // What the DNSBL lookups found (SPEC §2.1 step 3).
  struct DnsblHit {
    std::string zone;
    int weight = 0;
    std::string reason;  // the zone's TXT record, sanitised; may be empty
  };
  int dnsbl_score = 0;
  std::vector<DnsblHit> dnsbl_hits;  // zones that listed the client or a domain

  // What the SPF evaluation found (SPEC §2.1 step 4); nullopt when it did not
  // run (no client address). The header is built with the request it asked.
  std::optional<spf::Outcome> spf;
  std::string spf_header;
  // Sender verification (SPEC §2.1 step 5): whether it applies to this
  // request (a non-null sender outside local_domains, not exempt), and the
  // verdict the cache or the callout gave.
  bool callout_applies = false;
  std::optional<CalloutResult> callout;
  // A check's own text for greylisting's deferral (an unverified sender is
  // told so), with ${seconds}, ${sender}, ${recipient} and ${ip}; empty: the
  // greylist's own text.
  std::string greylist_reply;

  std::vector<std::string> headers;  // headers a check wants prepended
  std::vector<std::string> notes;    // "greylist=pass" etc., for the decision log
  std::vector<CheckTiming> timings;
};

// A decisive outcome; the first one in pipeline order wins.
struct Decision {
  std::string action;           // the policy action, e.g. "DEFER_IF_PERMIT 4.7.1 ..."
  std::string verdict;          // metrics and log label: defer, reject, skip, ...
  std::string reason;           // which check and why, for the log
  std::string_view check = {};  // the check that decided (set by the pipeline)
};

}  // namespace mailsan::policyd
