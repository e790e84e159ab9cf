#include "policyd/dnsbl/dnsbl_check.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "common/log/log.hpp"
#include "common/util/text_template.hpp"
#include "policyd/dnsbl/dnsbl_names.hpp"

namespace mailsan::policyd {
namespace asio = boost::asio;

namespace {

enum class Outcome { pending, listed, not_listed, failed, timeout };

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::listed:
      return "listed";
    case Outcome::not_listed:
      return "not_listed";
    case Outcome::failed:
      return "failed";
    case Outcome::timeout:
    case Outcome::pending:
      return "timeout";
  }
  return "timeout";
}

struct Query {
  const dnsbl::Entry* entry;
  std::string name;
};

struct Result {
  Outcome outcome = Outcome::pending;
  std::string reason;
};

// Shared by the lookup and its per-query coroutines: a query that outlives
// the budget finishes into it harmlessly (and still fills the cache).
struct Batch {
  Batch(asio::any_io_executor ex, std::shared_ptr<const void> s)
      : settings(std::move(s)), done(std::move(ex)) {}
  std::shared_ptr<const void> settings;  // owns the entries the queries point into
  std::vector<Query> queries;
  std::vector<Result> results;
  std::size_t left = 0;
  asio::steady_timer done;
};

std::vector<dnsbl::Entry> parse_entries(const std::vector<std::string>& texts) {
  std::vector<dnsbl::Entry> out;
  for (const auto& text : texts) {
    std::string error;
    auto entry = dnsbl::parse_entry(text, &error);
    if (!entry) throw std::invalid_argument(text + ": " + error);
    out.push_back(std::move(*entry));
  }
  return out;
}

}  // namespace

std::string dnsbl_reason(std::string_view txt) {
  std::string out;
  out.reserve(std::min<std::size_t>(txt.size(), 200));
  for (char c : txt) {
    if (out.size() == 200) break;
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

DnsblCheck::DnsblCheck(dns::Resolver& resolver, PolicydMetrics& metrics)
    : resolver_(resolver), metrics_(metrics) {}

void DnsblCheck::configure(const PolicydConfig& config) {
  auto s = std::make_shared<Settings>();
  s->rbl = config.rbl;
  s->zones = parse_entries(config.rbl.zones);
  s->rhsbl = parse_entries(config.rbl.rhsbl);
  using std::chrono::milliseconds;
  s->budget =
      std::max(milliseconds(500), std::chrono::duration_cast<milliseconds>(config.request_timeout) -
                                      milliseconds(500));
  s->active = !s->zones.empty() || !s->rhsbl.empty();
  settings_ = std::move(s);
}

asio::awaitable<void> DnsblCheck::lookup(Transaction& tx) {
  auto ex = co_await asio::this_coro::executor;
  std::shared_ptr<const Settings> settings = settings_;
  const Settings& s = *settings;
  auto batch = std::make_shared<Batch>(ex, settings);
  if (tx.client_ip)
    for (const auto& e : s.zones)
      batch->queries.push_back({&e, dnsbl::reversed_ip_name(*tx.client_ip, e.zone)});
  if (!s.rhsbl.empty()) {
    const auto& r = tx.request;
    for (const auto& domain : dnsbl::rhsbl_domains(r.sender(), r.helo_name(), r.client_name()))
      for (const auto& e : s.rhsbl)
        if (std::string name = dnsbl::rhsbl_name(domain, e.zone); !name.empty())
          batch->queries.push_back({&e, std::move(name)});
  }
  // The pipeline waits for its lookups on a timer that the last one cancels;
  // a lookup answered entirely from the cache could finish before that wait
  // begins, so it always yields once.
  co_await asio::post(ex, asio::use_awaitable);
  if (batch->queries.empty()) co_return;
  batch->results.resize(batch->queries.size());
  batch->left = batch->queries.size();
  batch->done.expires_after(s.budget);

  for (std::size_t i = 0; i < batch->queries.size(); ++i) {
    asio::co_spawn(
        ex,
        [this, batch, i]() -> asio::awaitable<void> {
          const Query& q = batch->queries[i];
          Result& result = batch->results[i];
          dns::Answer a = co_await resolver_.query(q.name, dns::RecordType::a);
          if (a.from_cache) metrics_.dns_cache_hits.inc();
          switch (a.status) {
            case dns::Status::ok:
              result.outcome =
                  q.entry->listed_by(a.addresses) ? Outcome::listed : Outcome::not_listed;
              break;
            case dns::Status::nxdomain:
            case dns::Status::nodata:
              result.outcome = Outcome::not_listed;
              break;
            case dns::Status::timeout:
              result.outcome = Outcome::timeout;
              break;
            default:
              result.outcome = Outcome::failed;
              break;
          }
          // Only a listing that can lead to a reject needs its reason.
          if (result.outcome == Outcome::listed && q.entry->weight > 0) {
            dns::Answer txt = co_await resolver_.query(q.name, dns::RecordType::txt);
            if (txt.from_cache) metrics_.dns_cache_hits.inc();
            if (txt.status == dns::Status::ok && !txt.texts.empty())
              result.reason = dnsbl_reason(txt.texts.front());
          }
          if (--batch->left == 0) batch->done.cancel();
        },
        asio::detached);
  }
  // Queries may have been answered inline (from the cache) already.
  if (batch->left > 0) co_await batch->done.async_wait(asio::as_tuple(asio::use_awaitable));

  // A zone counts once, however many of the request's names it lists.
  auto score_entries = [&](const std::vector<dnsbl::Entry>& entries) {
    for (const auto& e : entries) {
      const Result* listing = nullptr;
      bool asked = false;
      for (std::size_t i = 0; i < batch->queries.size(); ++i) {
        if (batch->queries[i].entry != &e) continue;
        asked = true;
        const Result& r = batch->results[i];
        metrics_.dnsbl_lookup(e.zone, to_string(r.outcome)).inc();
        if (r.outcome == Outcome::listed && (!listing || listing->reason.empty())) listing = &r;
      }
      if (!asked || !listing) continue;
      tx.dnsbl_score += e.weight;
      tx.dnsbl_hits.push_back({e.zone, e.weight, listing->reason});
    }
  };
  score_entries(s.zones);
  score_entries(s.rhsbl);
}

asio::awaitable<std::optional<Decision>> DnsblCheck::decide(Transaction& tx) {
  std::shared_ptr<const Settings> s = settings_;
  if (tx.dnsbl_hits.empty()) co_return std::nullopt;
  const RblConfig& rbl = s->rbl;
  const int score = tx.dnsbl_score;
  std::string zones;
  for (const auto& h : tx.dnsbl_hits) {
    if (!zones.empty()) zones += ',';
    zones += h.zone;
  }
  tx.notes.push_back("dnsbl_score=" + std::to_string(score));
  tx.notes.push_back("dnsbl_zones=" + zones);

  if (score >= rbl.reject_score) {
    // The reply names the heaviest listing, the one most to blame.
    const Transaction::DnsblHit* worst = &tx.dnsbl_hits.front();
    for (const auto& h : tx.dnsbl_hits)
      if (h.weight > worst->weight) worst = &h;
    std::string ip = tx.client_ip ? tx.client_ip->to_string() : std::string("unknown");
    std::string reason = worst->reason.empty() ? std::string() : "; " + worst->reason;
    metrics_.check_outcome("dnsbl", "reject").inc();
    co_return Decision{
        util::expand_template(rbl.reply, {{"ip", ip}, {"zone", worst->zone}, {"reason", reason}}),
        "reject", "dnsbl: score " + std::to_string(score) + " (" + zones + ")"};
  }
  if (score >= rbl.greylist_score) {
    tx.force_greylist = true;
    tx.greylist_delay = rbl.greylist_delay;
    metrics_.check_outcome("dnsbl", "greylist").inc();
  } else if (score <= rbl.skip_score) {
    tx.skip_greylist = true;
    tx.skip_callout = true;
    metrics_.check_outcome("dnsbl", "skip").inc();
  } else {
    metrics_.check_outcome("dnsbl", "pass").inc();
  }
  co_return std::nullopt;
}

}  // namespace mailsan::policyd
