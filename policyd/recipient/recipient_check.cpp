#include "policyd/recipient/recipient_check.hpp"

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/log/log.hpp"
#include "common/util/ascii.hpp"

namespace mailsan::policyd {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Status = Transaction::RecipientStatus;

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

RecipientCheck::RecipientCheck(ldap::Directory* directory, PolicydMetrics& metrics,
                               RecipientCache::Now now)
    : directory_(directory), metrics_(metrics), cache_(std::move(now)) {}

void RecipientCheck::configure(const PolicydConfig& config) {
  auto s = std::make_shared<Settings>();
  s->ldap = config.ldap;
  for (const auto& d : config.local_domains) s->local_domains.push_back(util::ascii_lower(d));
  using std::chrono::milliseconds;
  s->budget =
      std::max(milliseconds(500), std::chrono::duration_cast<milliseconds>(config.request_timeout) -
                                      milliseconds(500));
  s->active = directory_ != nullptr && !config.ldap.uri.empty() && !s->local_domains.empty();
  cache_.configure(static_cast<std::size_t>(config.ldap.cache_entries), config.ldap.cache_ttl,
                   config.ldap.negative_cache_ttl);
  settings_ = std::move(s);
}

bool RecipientCheck::is_local(const Settings& s, std::string_view domain) const {
  return std::find(s.local_domains.begin(), s.local_domains.end(), domain) != s.local_domains.end();
}

asio::awaitable<RecipientCheck::Outcome> RecipientCheck::run_searches(
    std::string base, std::vector<Search> searches) {
  for (auto& search : searches) {
    std::vector<std::string> attributes;
    // Existence is all that matters; every entry has an objectClass.
    attributes.emplace_back("objectClass");
    auto pending = directory_->search(base, ldap::make_filter(search.filter, search.value),
                                      std::move(attributes));
    ldap::SearchResult result = co_await std::move(pending);
    if (result.status != ldap::SearchResult::Status::ok) {
      // One search that could not be answered leaves the recipient unknown
      // to us, not unknown to the directory.
      co_return Outcome{Status::unavailable, result.error.empty() ? "search failed" : result.error};
    }
    if (!result.entries.empty()) co_return Outcome{Status::found, search.label};
  }
  co_return Outcome{Status::unknown, "no entry"};
}

asio::awaitable<void> RecipientCheck::lookup(Transaction& tx) {
  std::shared_ptr<const Settings> settings = settings_;
  const Settings& s = *settings;
  if (!s.active) co_return;
  auto parts = split_recipient(tx.request.recipient());
  if (!parts) {
    // No domain, so none of ours: Postfix has its own checks for this.
    tx.recipient_status = Status::not_local;
    co_return;
  }
  if (!is_local(s, parts->domain)) {
    tx.recipient_status = Status::not_local;
    co_return;
  }
  if (parts->address.size() > kMaxAddressLength) {
    tx.recipient_status = Status::unknown;
    tx.recipient_detail = "address too long";
    co_return;
  }
  // slapd's matching stops at a NUL and ignores trailing spaces, so
  // "jclark@example.test\0junk" would find jclark: an address with control
  // bytes or spaces is no mailbox and is never searched for.
  if (std::any_of(parts->address.begin(), parts->address.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
    tx.recipient_status = Status::unknown;
    tx.recipient_detail = "control byte or space in the address";
    co_return;
  }
  if (auto cached = cache_.get(parts->address)) {
    metrics_.ldap_cache_hits.inc();
    tx.recipient_status =
        *cached == RecipientCache::Answer::found ? Status::found : Status::unknown;
    tx.recipient_detail = "cache";
    co_return;
  }

  const LdapConfig& c = s.ldap;
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
  asio::steady_timer budget(ex, s.budget);
  auto chain = run_searches(c.base, std::move(searches));
  auto give_up = budget.async_wait(asio::use_awaitable);
  auto first = co_await (std::move(chain) || std::move(give_up));

  Outcome outcome;
  if (first.index() == 0) {
    outcome = std::move(std::get<0>(first));
  } else {
    outcome = Outcome{Status::unavailable, "timeout"};
  }
  tx.recipient_status = outcome.status;
  tx.recipient_detail = outcome.detail;
  if (outcome.status == Status::unavailable) {
    metrics_.ldap_errors.inc();
    log::warning("ldap_lookup_failed").kv("rcpt", parts->address).kv("error", outcome.detail);
    co_return;
  }
  cache_.put(parts->address, outcome.status == Status::found ? RecipientCache::Answer::found
                                                             : RecipientCache::Answer::unknown);
}

asio::awaitable<std::optional<Decision>> RecipientCheck::decide(Transaction& tx) {
  std::shared_ptr<const Settings> settings = settings_;
  const LdapConfig& c = settings->ldap;
  switch (tx.recipient_status) {
    case Status::not_checked: {
      // The lookup never finished (or validation was turned on since it
      // started). A local recipient must not pass unchecked.
      auto parts = split_recipient(tx.request.recipient());
      if (!settings->active || !parts || !is_local(*settings, parts->domain))
        co_return std::nullopt;
      tx.recipient_status = Status::unavailable;
      tx.recipient_detail = "lookup did not finish";
      break;
    }
    case Status::not_local:
      metrics_.check_outcome("recipient", "not_local").inc();
      co_return std::nullopt;
    case Status::found:
      metrics_.check_outcome("recipient", "found").inc();
      tx.notes.push_back("recipient=found:" + tx.recipient_detail);
      co_return std::nullopt;
    case Status::unknown:
      metrics_.check_outcome("recipient", "unknown").inc();
      co_return Decision{c.unknown_reply, "reject",
                         "recipient: unknown (" + tx.recipient_detail + ")"};
    case Status::unavailable:
      break;
  }
  metrics_.check_outcome("recipient", "unavailable").inc();
  co_return Decision{c.unavailable_reply, "defer",
                     "recipient: directory unavailable (" + tx.recipient_detail + ")"};
}

}  // namespace mailsan::policyd
