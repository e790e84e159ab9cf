#include "policyd/dnsbl/dnsbl_check.hpp"

#include <boost/asio/this_coro.hpp>
#include <stdexcept>

#include "common/async/fan_out.hpp"
#include "common/log/log.hpp"
#include "common/stats/report_rows.hpp"
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
  std::vector<Query> queries;
  std::vector<Result> results;
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

DnsblCheck::DnsblCheck(const PolicydConfig& config, dns::Resolver& resolver,
                       PolicydMetrics& metrics)
    : rbl_(config.rbl),
      zones_(parse_entries(config.rbl.zones)),
      rhsbl_(parse_entries(config.rbl.rhsbl)),
      budget_(lookup_budget(config.request_timeout)),
      reply_(parse_reply(config.rbl.reply)),
      resolver_(resolver),
      metrics_(metrics) {}

std::shared_ptr<Check> make_dnsbl_check(const PolicydConfig& config, CheckServices& services) {
  if (config.rbl.zones.empty() && config.rbl.rhsbl.empty()) return nullptr;
  return std::make_shared<DnsblCheck>(config, services.resolver, services.metrics);
}

asio::awaitable<void> DnsblCheck::lookup(Transaction& tx) {
  auto ex = co_await asio::this_coro::executor;
  auto batch = std::make_shared<Batch>();
  const CheckRequest& r = tx.request;
  if (r.client_ip)
    for (const auto& e : zones_)
      batch->queries.push_back({&e, dnsbl::reversed_ip_name(*r.client_ip, e.zone)});
  if (!rhsbl_.empty())
    for (const auto& domain : dnsbl::rhsbl_domains(r.sender, r.helo, r.client_name))
      for (const auto& e : rhsbl_)
        if (std::string name = dnsbl::rhsbl_name(domain, e.zone); !name.empty())
          batch->queries.push_back({&e, std::move(name)});
  if (batch->queries.empty()) co_return;
  batch->results.resize(batch->queries.size());

  std::vector<async::Task> queries;
  for (std::size_t i = 0; i < batch->queries.size(); ++i) {
    // The check owns the entries the queries point into: an abandoned query
    // keeps it alive.
    queries.push_back([self = shared_from_this(), batch, i]() -> asio::awaitable<void> {
      const Query& q = batch->queries[i];
      Result& result = batch->results[i];
      dns::Answer a = co_await self->resolver_.query(q.name, dns::RecordType::a);
      if (a.from_cache) self->metrics_.dns_cache_hits.inc();
      switch (a.status) {
        case dns::Status::ok:
          result.outcome = q.entry->listed_by(a.addresses) ? Outcome::listed : Outcome::not_listed;
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
        dns::Answer txt = co_await self->resolver_.query(q.name, dns::RecordType::txt);
        if (txt.from_cache) self->metrics_.dns_cache_hits.inc();
        if (txt.status == dns::Status::ok && !txt.texts.empty())
          result.reason = dnsbl_reason(txt.texts.front());
      }
    });
  }
  co_await async::fan_out(ex, std::move(queries),
                          {.deadline = budget_, .at_deadline = async::AtDeadline::abandon});

  // A zone counts once, however many of the request's names it lists.
  DnsblFinding finding;
  auto score_entries = [&](const std::vector<dnsbl::Entry>& entries) {
    for (const auto& e : entries) {
      const Result* listing = nullptr;
      bool asked = false;
      for (std::size_t i = 0; i < batch->queries.size(); ++i) {
        if (batch->queries[i].entry != &e) continue;
        asked = true;
        const Result& res = batch->results[i];
        metrics_.dnsbl_lookup(e.zone, to_string(res.outcome)).inc();
        if (res.outcome == Outcome::listed && (!listing || listing->reason.empty())) listing = &res;
      }
      if (!asked || !listing) continue;
      finding.score += e.weight;
      finding.hits.push_back({e.zone, e.weight, listing->reason});
    }
  };
  score_entries(zones_);
  score_entries(rhsbl_);
  if (!finding.hits.empty()) tx.findings.record(std::move(finding));
}

asio::awaitable<std::optional<Decision>> DnsblCheck::decide(Transaction& tx) {
  DnsblFinding* f = tx.findings.find_mutable<DnsblFinding>();
  if (!f) co_return std::nullopt;
  const int score = f->score;
  std::string zones;
  for (const auto& h : f->hits) {
    if (!zones.empty()) zones += ',';
    zones += h.zone;
  }
  tx.notes.push_back("dnsbl_score=" + std::to_string(score));
  tx.notes.push_back("dnsbl_zones=" + zones);

  if (score >= rbl_.reject_score) {
    // The reply names the heaviest listing, the one most to blame.
    const DnsblFinding::Hit* worst = &f->hits.front();
    for (const auto& h : f->hits)
      if (h.weight > worst->weight) worst = &h;
    const auto& ip_address = tx.request.client_ip;
    std::string ip = ip_address ? ip_address->to_string() : std::string("unknown");
    std::string reason = worst->reason.empty() ? std::string() : "; " + worst->reason;
    metrics_.check_outcome("dnsbl", "reject").inc();
    Decision d =
        Decision::from(reply_, {{"ip", ip}, {"zone", worst->zone}, {"reason", reason}}, "reject",
                       "dnsbl: score " + std::to_string(score) + " (" + zones + ")");
    d.report_row = stats::row::dnsbl;
    co_return d;
  }
  if (score >= rbl_.greylist_score) {
    f->forces_greylisting = true;
    f->greylist_delay = rbl_.greylist_delay;
    metrics_.check_outcome("dnsbl", "greylist").inc();
  } else if (score <= rbl_.skip_score) {
    f->skips_greylisting = true;
    f->skips_callout = true;
    metrics_.check_outcome("dnsbl", "skip").inc();
  } else {
    metrics_.check_outcome("dnsbl", "pass").inc();
  }
  co_return std::nullopt;
}

}  // namespace mailsan::policyd
