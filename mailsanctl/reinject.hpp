// Hands a quarantined message back to Postfix: one SMTP transaction with
// next_hop (the after-filter smtpd) that replays the quarantined envelope,
// sends the message dot-stuffed, and succeeds only on a 2xx reply to it.
// Called by `mailsanctl quarantine release`.
//
// It runs the coroutine SMTP client (common/smtp/client.hpp) on its own
// io_context and blocks until the dialogue is over: mailsanctl has nothing
// else to do meanwhile.
//
// Every recipient must be accepted: with a partial acceptance the message
// would be delivered to some and the entry could then be neither kept whole
// nor removed, so a refused RCPT ends the transaction (QUIT, nothing sent).
// XFORWARD attributes from the record are replayed when next_hop advertises
// XFORWARD (smtpd_authorized_xforward_hosts), so that its log and Received
// header name the original client as they would have without the quarantine.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "contentfilter/quarantine/quarantine_record.hpp"

namespace mailsan::ctl {

struct ReinjectSettings {
  std::string next_hop;              // inet:HOST:PORT (the filter's next_hop)
  std::string helo_name;             // our EHLO argument
  std::chrono::seconds timeout{60};  // per step: connect, each reply, the body
};

struct ReinjectOutcome {
  bool delivered = false;
  std::string reply;  // next_hop's reply to the message: "250 2.0.0 Ok: queued as 4Xyz"
  std::string error;  // when !delivered: what failed, for the operator
};

ReinjectOutcome reinject(const filter::QuarantineRecord& record,
                         const std::filesystem::path& message, const ReinjectSettings& settings);

}  // namespace mailsan::ctl
