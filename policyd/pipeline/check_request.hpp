// What a policy check is asked about: one recipient of one SMTP transaction,
// whatever front end carried the question (the Postfix policy protocol, the
// milter protocol). Held by value in the transaction, so that a lookup that
// outlives its request's deadline still reads valid memory.
#pragma once

#include <optional>
#include <string>

#include "common/net/cidr.hpp"

namespace mailsan::policyd {

struct CheckRequest {
  // Where in the SMTP conversation the question is asked. Checks decide at
  // RCPT; a front end may ask at the other stages for what is due there.
  enum class Stage { connect, helo, mail, rcpt, data, end_of_message, other };

  Stage stage = Stage::rcpt;
  std::string client_address;               // as the MTA gave it ("unknown" when it has none)
  std::optional<net::IpAddress> client_ip;  // parsed; nullopt when not an address
  std::string client_name;                  // verified reverse name, or "unknown"
  std::string helo;
  std::string sender;  // envelope sender without <>; empty: the null sender
  std::string recipient;
  std::string sasl_username;      // empty: not authenticated
  std::string ccert_fingerprint;  // the TLS client certificate's, or empty
  // One id per message: "once per message" state (headers) is keyed by it.
  std::string instance;
  std::string queue_id;  // for the log; may be empty
};

}  // namespace mailsan::policyd
