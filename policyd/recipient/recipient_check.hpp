// Recipient validation (SPEC §2.1 step 2): a recipient in one of
// local_domains must be known to the directory, or it is refused at RCPT
// (550 5.1.1), so that mail for nobody is never accepted and bounced later.
// The address is searched with recipient_filter as given, then without its
// +detail, then with alias_filter, then (only with allow_catchall) as
// @domain. A directory that is down or too slow defers (451 4.3.0, SPEC
// §2.2): a recipient that cannot be checked is never accepted, because that
// is how backscatter is made.
//
// SECURITY: the recipient comes from the SMTP client. Every value put into a
// filter is escaped per RFC 4515 (ldap::make_filter), so '*', '(', ')', '\'
// and NUL match literally and cannot widen a search; addresses longer than
// any valid one are refused without asking the directory.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ldap/directory.hpp"
#include "policyd/pipeline/check.hpp"
#include "policyd/pipeline/services.hpp"
#include "policyd/policyd_config.hpp"
#include "policyd/policyd_metrics.hpp"
#include "policyd/recipient/recipient_cache.hpp"

namespace mailsan::policyd {

// The parts of a recipient that the searches use; nullopt for an address
// without '@' or with an empty local part or domain.
struct RecipientAddress {
  std::string address;  // lower-cased: the cache key and the exact search
  std::string base;     // without "+detail"; equals address when there is none
  std::string domain;   // lower-cased
};
std::optional<RecipientAddress> split_recipient(std::string_view recipient);

// What recipient validation found (SPEC §2.1 step 2); recorded by the
// lookup, read by the decision. No record means the lookup never finished,
// which for a local domain must not pass.
struct RecipientFinding {
  enum class Status { not_local, found, unknown, unavailable };
  Status status = Status::unavailable;
  std::string detail;  // which search matched (exact, detail, alias, ...) or why not
};

class RecipientCheck : public Check {
 public:
  // Takes [ldap], local_domains and request_timeout. The cache starts empty
  // with each configuration.
  RecipientCheck(const PolicydConfig& config, ldap::Directory& directory, PolicydMetrics& metrics,
                 RecipientCache::Now now = &RecipientCache::Clock::now);

  std::string_view name() const override { return "recipient"; }
  bool has_lookup() const override { return true; }
  boost::asio::awaitable<void> lookup(Transaction& tx) override;
  boost::asio::awaitable<std::optional<Decision>> decide(Transaction& tx) override;

 private:
  struct Search {
    std::string filter;
    std::string value;
    std::string label;  // for the log: which search matched
  };

  bool is_local(std::string_view domain) const;
  boost::asio::awaitable<RecipientFinding> run_searches(std::string base,
                                                        std::vector<Search> searches);

  const LdapConfig ldap_;
  std::vector<std::string> local_domains_;  // lower-cased
  // The searches stop waiting this long before request_timeout, so that a
  // slow directory costs a 451 and not a DUNNO (which would accept).
  const std::chrono::milliseconds budget_;
  const ReplyTemplate unknown_reply_;
  const ReplyTemplate unavailable_reply_;
  ldap::Directory& directory_;
  PolicydMetrics& metrics_;
  RecipientCache cache_;
};

// Off (nullptr) without a directory (no [ldap] uri at start) or without
// local_domains.
std::shared_ptr<Check> make_recipient_check(const PolicydConfig& config, CheckServices& services);

}  // namespace mailsan::policyd
