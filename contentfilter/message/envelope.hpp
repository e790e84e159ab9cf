// One SMTP transaction as Postfix's before-queue smtpd handed it to the
// filter: everything needed to replay it downstream unchanged (SPEC §3).
#pragma once

#include <string>
#include <vector>

#include "contentfilter/smtp/command.hpp"

namespace mailsan::filter {

struct Envelope {
  std::string helo;                               // the EHLO/HELO argument Postfix sent us
  std::vector<smtp::XforwardAttribute> xforward;  // decoded, in the order received
  smtp::Path sender;                              // MAIL FROM path and parameters
  std::vector<smtp::Path> recipients;             // RCPT TO paths and parameters

  // An XFORWARD attribute's value (NAME, ADDR, HELO, ...), or empty.
  const std::string& xforward_value(std::string_view name) const {
    static const std::string kNone;
    for (const auto& a : xforward)
      if (a.name == name) return a.value;
    return kNone;
  }
};

}  // namespace mailsan::filter
