#include "policyd/recipient/recipient_check.hpp"

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/log/log.hpp"
#include "common/stats/report_rows.hpp"
#include "common/util/ascii.hpp"

namespace mailsan::policyd {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Status = RecipientFinding::Status;

namespace {

// RFC 5321 §4.5.3.1: a local part of 64 octets and a domain of 255. Anything
// longer names no mailbox, and need not cost a search.
constexpr std::size_t kMaxAddressLength = 64 + 1 + 255;

}  // namespace

std::optional<RecipientAddress> split_recipient(std::string_view recipient) {
  auto at = recipient.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == recipient.size()) return std::nullopt;
  RecipientAddress r;
  r.address = util::ascii_lower(recipient);
  r.domain = r.address.substr(at + 1);
  std::string_view local = std::string_view(r.address).substr(0, at);
  // Postfix's default recipient_delimiter; "+x@d" keeps its local part, as
  // Postfix itself does not strip an extension that would leave nothing.
  auto plus = local.find('+');
  if (plus != std::string_view::npos && plus > 0)
    r.base = std::string(local.substr(0, plus)) + "@" + r.domain;
  else
    r.base = r.address;
  return r;
}

RecipientCheck::RecipientCheck(const PolicydConfig& config, ldap::Directory& directory,
                               PolicydMetrics& metrics, RecipientCache::Now now)
    : ldap_(config.ldap),
      budget_(lookup_budget(config.request_timeout)),
      unknown_reply_(parse_reply(config.ldap.unknown_reply)),
      unavailable_reply_(parse_reply(config.ldap.unavailable_reply)),
      directory_(directory),
      metrics_(metrics),
      cache_(std::move(now)) {
  for (const auto& d : config.local_domains) local_domains_.push_back(util::ascii_lower(d));
  cache_.configure(static_cast<std::size_t>(config.ldap.cache_entries), config.ldap.cache_ttl,
                   config.ldap.negative_cache_ttl);
}

std::shared_ptr<Check> make_recipient_check(const PolicydConfig& config, CheckServices& services) {
  if (!services.directory || config.ldap.uri.empty() || config.local_domains.empty())
    return nullptr;
  return std::make_shared<RecipientCheck>(config, *services.directory, services.metrics);
}

bool RecipientCheck::is_local(std::string_view domain) const {
  return std::find(local_domains_.begin(), local_domains_.end(), domain) != local_domains_.end();
}

asio::awaitable<RecipientFinding> RecipientCheck::run_searches(std::string base,
                                                               std::vector<Search> searches) {
  for (auto& search : searches) {
    std::vector<std::string> attributes;
    // Existence is all that matters; every entry has an objectClass.
    attributes.emplace_back("objectClass");
    auto pending = directory_.search(base, ldap::make_filter(search.filter, search.value),
                                     std::move(attributes));
    ldap::SearchResult result = co_await std::move(pending);
    if (result.status != ldap::SearchResult::Status::ok) {
      // One search that could not be answered leaves the recipient unknown
      // to us, not unknown to the directory.
      co_return RecipientFinding{Status::unavailable,
                                 result.error.empty() ? "search failed" : result.error};
    }
    if (!result.entries.empty()) co_return RecipientFinding{Status::found, search.label};
  }
  co_return RecipientFinding{Status::unknown, "no entry"};
}

asio::awaitable<void> RecipientCheck::lookup(Transaction& tx) {
  auto found = [&](Status status, std::string detail) {
    tx.findings.record(RecipientFinding{status, std::move(detail)});
  };
  auto parts = split_recipient(tx.request.recipient);
  // No domain, so none of ours: the MTA has its own checks for this.
  if (!parts || !is_local(parts->domain)) co_return found(Status::not_local, {});
  if (parts->address.size() > kMaxAddressLength)
    co_return found(Status::unknown, "address too long");
  // slapd's matching stops at a NUL and ignores trailing spaces, so
  // "jclark@example.test\0junk" would find jclark: an address with control
  // bytes or spaces is no mailbox and is never searched for.
  if (std::any_of(parts->address.begin(), parts->address.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }))
    co_return found(Status::unknown, "control byte or space in the address");
  if (auto cached = cache_.get(parts->address)) {
    metrics_.ldap_cache_hits.inc();
    co_return found(*cached == RecipientCache::Answer::found ? Status::found : Status::unknown,
                    "cache");
  }

  const LdapConfig& c = ldap_;
  std::vector<Search> searches;
  searches.push_back({c.recipient_filter, parts->address, "exact"});
  if (parts->base != parts->address)
    searches.push_back({c.recipient_filter, parts->base, "detail"});
  if (!c.alias_filter.empty()) {
    searches.push_back({c.alias_filter, parts->address, "alias"});
    if (parts->base != parts->address) searches.push_back({c.alias_filter, parts->base, "alias"});
  }
  if (c.allow_catchall) searches.push_back({c.recipient_filter, "@" + parts->domain, "catchall"});

  // Past the budget the timer wins and cancels the search in flight, which
  // the directory answers at once, so nothing is left waiting.
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer budget(ex, budget_);
  auto chain = run_searches(c.base, std::move(searches));
  auto give_up = budget.async_wait(asio::use_awaitable);
  auto first = co_await (std::move(chain) || std::move(give_up));

  RecipientFinding outcome{Status::unavailable, "timeout"};
  if (first.index() == 0) outcome = std::move(std::get<0>(first));
  if (outcome.status == Status::unavailable) {
    metrics_.ldap_errors.inc();
    log::warning("ldap_lookup_failed").kv("rcpt", parts->address).kv("error", outcome.detail);
  } else {
    cache_.put(parts->address, outcome.status == Status::found ? RecipientCache::Answer::found
                                                               : RecipientCache::Answer::unknown);
  }
  tx.findings.record(std::move(outcome));
}

asio::awaitable<std::optional<Decision>> RecipientCheck::decide(Transaction& tx) {
  // No record: the lookup never finished. A local recipient must not pass
  // unchecked.
  RecipientFinding unfinished{Status::unavailable, "lookup did not finish"};
  const RecipientFinding* f = tx.findings.find<RecipientFinding>();
  if (!f) f = &unfinished;
  switch (f->status) {
    case Status::not_local:
      metrics_.check_outcome("recipient", "not_local").inc();
      co_return std::nullopt;
    case Status::found:
      metrics_.check_outcome("recipient", "found").inc();
      tx.notes.push_back("recipient=found:" + f->detail);
      co_return std::nullopt;
    case Status::unknown: {
      metrics_.check_outcome("recipient", "unknown").inc();
      Decision d =
          Decision::from(unknown_reply_, {}, "reject", "recipient: unknown (" + f->detail + ")");
      d.report_row = stats::row::user_unknown;
      co_return d;
    }
    case Status::unavailable:
      break;
  }
  metrics_.check_outcome("recipient", "unavailable").inc();
  co_return Decision::from(unavailable_reply_, {}, "defer",
                           "recipient: directory unavailable (" + f->detail + ")");
}

}  // namespace mailsan::policyd
