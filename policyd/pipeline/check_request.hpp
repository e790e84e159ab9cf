// What a policy check is asked about: one recipient of one SMTP transaction,
// whatever front end carried the question (the Postfix policy protocol, the
// milter protocol). Held by value in the transaction, so that a lookup that
// outlives its request's deadline still reads valid memory: the values are
// views into `storage`, which every copy of the request shares, so a front
// end hands its request's bytes over with one allocation instead of a copy
// of each value.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/net/cidr.hpp"

namespace mailsan::policyd {

struct CheckRequest {
  // Where in the SMTP conversation the question is asked. Checks decide at
  // RCPT; a front end may ask at the other stages for what is due there.
  enum class Stage { connect, helo, mail, rcpt, data, end_of_message, other };

  Stage stage = Stage::rcpt;
  std::string_view client_address;          // as the MTA gave it ("unknown" when it has none)
  std::optional<net::IpAddress> client_ip;  // parsed; nullopt when not an address
  std::string_view client_name;             // verified reverse name, or "unknown"
  std::string_view helo;
  std::string_view sender;  // envelope sender without <>; empty: the null sender
  std::string_view recipient;
  std::string_view sasl_username;      // empty: not authenticated
  std::string_view ccert_fingerprint;  // the TLS client certificate's, or empty
  // One id per message: "once per message" state (headers) is keyed by it.
  std::string_view instance;
  std::string_view queue_id;  // for the log; may be empty

  // What the views point into, kept alive by every copy.
  std::shared_ptr<const void> storage;

  // Copies `value` into storage of the request's own and returns a view of
  // it: for front ends and tests that hold their values as separate strings.
  std::string_view own(std::string_view value);
};

}  // namespace mailsan::policyd
