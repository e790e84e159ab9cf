// One message's envelope as the MTA handed it over (SPEC §3), in
// protocol-neutral fields: the proxy fills them from EHLO, XFORWARD, MAIL and
// RCPT; a milter would fill the same fields from its macros and callbacks.
// Scanners, the verdict and the log read these fields, never the wire form.
//
// SECURITY: every field is what an Internet client chose (through the MTA);
// none is trusted, quoted or validated beyond the SMTP syntax.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "contentfilter/smtp/command.hpp"

namespace mailsan::filter {

struct Envelope {
  // The SMTP client the MTA talked to, as the MTA reports it (XFORWARD ADDR,
  // NAME, HELO, PROTO; milter {client_addr}, {client_name}, ...). Empty when
  // not reported; Postfix's "[UNAVAILABLE]" and "[TEMPUNAVAIL]" are kept as
  // they came.
  std::string client_address;
  std::string client_name;
  std::string client_helo;  // what the client said in HELO/EHLO to the MTA
  std::string protocol;     // SMTP, ESMTP, ...
  // The MTA's own HELO/EHLO argument to us (proxy only).
  std::string mta_helo;
  smtp::Path sender;                   // MAIL FROM path and parameters
  std::vector<smtp::Path> recipients;  // RCPT TO paths and parameters

  // The XFORWARD attributes as received, in order: the proxy replays them to
  // the next hop unchanged. Read the fields above instead.
  std::vector<smtp::XforwardAttribute> xforward;
};

// Takes in XFORWARD attributes: a repeated name replaces the earlier value,
// and NAME, ADDR, HELO and PROTO fill the client fields.
void add_xforward(Envelope& envelope, std::vector<smtp::XforwardAttribute> attributes);

// The attributes to replay downstream or keep with a quarantined copy: those
// received, or, when there were none (a milter), those the client fields
// give.
std::vector<std::pair<std::string, std::string>> xforward_attributes(const Envelope& envelope);

}  // namespace mailsan::filter
