// The spamd scanner of mailsan-filter (SPEC §3): each message goes to
// SpamAssassin's spamd (the [spamd] options) with SYMBOLS, or PROCESS when
// spamd's own X-Spam-Level / X-Spam-Report headers are wanted too, and
// spamd's score and rule names become the report the verdict turns into
// X-Spam-Flag, X-Spam-Score and X-Spam-Status (the verdict writes those,
// from the sum of every spam scorer's score and the recipient's thresholds,
// not from spamd's own required_score). The message itself is never
// replaced by spamd's rewritten one.
//
// User: is the recipient (its local part, or the whole address, per
// spamd.user) when the message has one recipient, so spamd can apply that
// user's preferences (spamd -x --virtual-config-dir=.../%u, SQL or LDAP
// preferences); with several recipients it is spamd.default_user (empty:
// none). Per-user scores change the score; a per-user required_score does
// not change the verdict, whose thresholds are mailsan's (spam_thresholds).
//
// When spamd cannot say (down, slow, an error code, a malformed reply) the
// report is not completed and spamd.failure_mode decides: by default the
// message goes on with X-Spam-Status: unchecked. A message larger than
// spamd.max_size is not sent at all (as spamc -s does) and counts as
// unchecked too; it is marked `skipped`, so it is never tempfailed, even
// with fail_closed: a large message would otherwise be refused for ever.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <string>
#include <string_view>

#include "contentfilter/filter_config.hpp"
#include "contentfilter/scan/scanner.hpp"
#include "contentfilter/spamd/spamd_client.hpp"

namespace mailsan::filter {

// The User: for a message: the single recipient's local part (lower-cased)
// or address per config.user, or config.default_user when there are several
// recipients (or none); empty for user = none.
std::string spamd_user_for(const Envelope& envelope, const SpamdConfig& config);

class SpamdScanner : public Scanner {
 public:
  // Throws std::invalid_argument for an address that is not inet:HOST:PORT
  // or unix:/path.
  SpamdScanner(boost::asio::any_io_executor ex, const SpamdConfig& config);

  std::string_view name() const override { return "spamd"; }
  FailureMode failure_mode() const override { return failure_mode_; }
  std::string unavailable_reply() const override { return unavailable_reply_; }
  boost::asio::awaitable<ScanReport> scan(ScanInput input) override;

 private:
  SpamdConfig config_;
  FailureMode failure_mode_;
  std::string unavailable_reply_;
  SpamdCommand command_;
  SpamdClient client_;
};

}  // namespace mailsan::filter
