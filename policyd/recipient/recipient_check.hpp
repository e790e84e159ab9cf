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

class RecipientCheck : public Check {
 public:
  // directory is null when [ldap] uri was empty at start-up; validation is
  // then off until a restart.
  RecipientCheck(ldap::Directory* directory, PolicydMetrics& metrics,
                 RecipientCache::Now now = &RecipientCache::Clock::now);
  // Takes [ldap], local_domains and request_timeout and empties the cache;
  // requests in flight keep the settings they started with.
  void configure(const PolicydConfig& config);

  std::string_view name() const override { return "recipient"; }
  bool enabled() const override { return settings_->active; }
  bool has_lookup() const override { return settings_->active; }
  boost::asio::awaitable<void> lookup(Transaction& tx) override;
  boost::asio::awaitable<std::optional<Decision>> decide(Transaction& tx) override;

 private:
  struct Settings {
    LdapConfig ldap;
    std::vector<std::string> local_domains;  // lower-cased
    // The searches stop waiting this long before request_timeout, so that a
    // slow directory costs a 451 and not a DUNNO (which would accept).
    std::chrono::milliseconds budget{7500};
    bool active = false;
  };
  struct Search {
    std::string filter;
    std::string value;
    std::string label;  // for the log: which search matched
  };
  struct Outcome {
    Transaction::RecipientStatus status = Transaction::RecipientStatus::unavailable;
    std::string detail;
  };

  bool is_local(const Settings& s, std::string_view domain) const;
  boost::asio::awaitable<Outcome> run_searches(std::string base, std::vector<Search> searches);

  ldap::Directory* directory_;
  PolicydMetrics& metrics_;
  RecipientCache cache_;
  std::shared_ptr<const Settings> settings_ = std::make_shared<Settings>();
};

}  // namespace mailsan::policyd
