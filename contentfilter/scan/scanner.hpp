// What every scanner of mailsan-filter answers to (SPEC §3): it is handed a
// complete message and its envelope at end-of-DATA, runs asynchronously
// (never blocking the I/O thread), honours cancellation (the scan_timeout,
// or the client going away) and reports findings as a value. All scanners
// of a message run concurrently; the verdict combines their reports.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "contentfilter/message/envelope.hpp"
#include "contentfilter/spool/message_spool.hpp"

namespace mailsan::filter {

struct ScanReport {
  std::string scanner;  // "clamav", "spamd", "bulk", "marker"
  // False when the scanner could not say (backend down, timeout, error):
  // the scanner's failure mode then decides.
  bool completed = false;
  std::string error;  // why not completed
  // Not completed because the scanner chose not to look (spamd: a message
  // over spamd.max_size, as spamc -s; ClamAV: over clamav.max_scan_size): the message counts as
  // unchecked, but the failure mode does not apply, since a message that is never going to be
  // scanned must not be tempfailed for ever.
  bool skipped = false;
  std::optional<std::string> virus;  // the name of what was found
  // What the scanner looks for, so the verdict knows which headers it may
  // write: X-Virus-Scanned only when a virus scanner ran, X-Spam-* only when
  // a spam scorer ran (and "unchecked" when it could not).
  bool checks_viruses = false;
  bool scores_spam = false;
  // With scores_spam: this scanner is a spam check of its own (spamd, the
  // marker), so that when it does not complete the message is "unchecked",
  // and without one no X-Spam-* header is written. False for a scanner that
  // only adds to the score (bulk): its completing says nothing about spam.
  bool spam_check = true;
  double score = 0;                  // contribution to the message's spam score
  std::vector<std::string> rules;    // rules that fired, for X-Spam-Status and the report
  std::vector<std::string> headers;  // "Name: value" lines this scanner adds
};

// What a scanner does when it cannot say.
enum class FailureMode {
  open,    // go on without it (spamd: X-Spam-Status: unchecked)
  closed,  // tempfail the message (ClamAV: 451 4.3.0 Virus scan temporarily unavailable)
};

struct ScanInput {
  const Envelope& envelope;
  const MessageSpool& message;
};

class Scanner {
 public:
  virtual ~Scanner() = default;
  virtual std::string_view name() const = 0;
  virtual FailureMode failure_mode() const = 0;
  // The reply when this scanner fails closed ("451 4.3.0 Virus scan
  // temporarily unavailable").
  virtual std::string unavailable_reply() const = 0;
  // Never throws for a backend's failure: that is a report with
  // completed = false.
  virtual boost::asio::awaitable<ScanReport> scan(ScanInput input) = 0;
};

}  // namespace mailsan::filter
