#include "policyd/spf/spf_check.hpp"

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/stats/report_rows.hpp"

namespace mailsan::policyd {
namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

std::size_t index_of(spf::Result r) {
  return static_cast<std::size_t>(r);
}

}  // namespace

std::string spf_reply_safe(std::string_view text, std::size_t max_length) {
  std::string out;
  out.reserve(std::min(text.size(), max_length));
  for (char c : text) {
    if (out.size() == max_length) break;
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

SpfCheck::SpfCheck(const PolicydConfig& config, dns::Resolver& resolver, PolicydMetrics& metrics)
    : spf_(config.spf),
      receiver_(effective_hostname(config)),
      budget_(lookup_budget(config.request_timeout)),
      reject_reply_(parse_reply(config.spf.reject_reply)),
      defer_reply_(parse_reply(config.spf.defer_reply)),
      dns_(resolver, metrics),
      metrics_(metrics) {
  auto action = [](const std::string& name) {
    if (name == "reject") return Action::reject;
    if (name == "defer") return Action::defer;
    if (name == "greylist") return Action::greylist;
    return Action::proceed;
  };
  const SpfConfig& c = config.spf;
  actions_[index_of(spf::Result::none)] = action(c.none_action);
  actions_[index_of(spf::Result::neutral)] = action(c.neutral_action);
  actions_[index_of(spf::Result::pass)] = action(c.pass_action);
  actions_[index_of(spf::Result::fail)] = action(c.fail_action);
  actions_[index_of(spf::Result::softfail)] = action(c.softfail_action);
  actions_[index_of(spf::Result::temperror)] = action(c.temperror_action);
  actions_[index_of(spf::Result::permerror)] = action(c.permerror_action);
}

std::shared_ptr<Check> make_spf_check(const PolicydConfig& config, CheckServices& services) {
  if (!config.spf.enable) return nullptr;
  return std::make_shared<SpfCheck>(config, services.resolver, services.metrics);
}

asio::awaitable<void> SpfCheck::lookup(Transaction& tx) {
  const CheckRequest& r = tx.request;
  if (!r.client_ip) co_return;
  spf::Request request{r.client_ip->unmapped(), std::string(r.sender), std::string(r.helo),
                       receiver_};

  // Past the budget the timer wins and cancels the evaluation: the resolver
  // answers a cancelled query at once, so nothing is left running.
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer budget(ex, budget_);
  auto evaluation = spf::check(request, dns_);
  auto give_up = budget.async_wait(asio::use_awaitable);
  auto first = co_await (std::move(evaluation) || std::move(give_up));

  SpfFinding finding;
  spf::Outcome& outcome = finding.outcome;
  if (first.index() == 0) {
    outcome = std::move(std::get<0>(first));
  } else {
    outcome.result = spf::Result::temperror;
    const bool helo = request.sender.empty();
    outcome.identity = helo ? "helo" : "mailfrom";
    auto at = request.sender.rfind('@');
    outcome.domain =
        helo ? request.helo
             : (at == std::string::npos ? request.sender : request.sender.substr(at + 1));
    outcome.problem = "DNS lookups took longer than " + std::to_string(budget_.count()) + " ms";
  }
  finding.header = spf::received_spf_header(outcome, request);
  tx.findings.record(std::move(finding));
}

asio::awaitable<std::optional<Decision>> SpfCheck::decide(Transaction& tx) {
  SpfFinding* f = tx.findings.find_mutable<SpfFinding>();
  if (!f) {
    // No client address to check, or the evaluation ended in an exception
    // (logged by the pipeline): there is no result to act on.
    metrics_.check_outcome("spf", tx.request.client_ip ? "not_evaluated" : "no_client_address")
        .inc();
    co_return std::nullopt;
  }
  const spf::Outcome& o = f->outcome;
  const std::string result(spf::to_string(o.result));
  metrics_.check_outcome("spf", result).inc();
  tx.notes.push_back("spf=" + result);
  if (!o.problem.empty()) tx.notes.push_back("spf_problem=" + spf_reply_safe(o.problem, 200));

  const Action action = actions_[index_of(o.result)];
  if (action == Action::reject || action == Action::defer) {
    const CheckRequest& r = tx.request;
    // For the null sender the HELO identity was checked, which RFC 7208 §2.3
    // names postmaster@<helo>.
    std::string sender = spf_reply_safe(
        r.sender.empty() ? "postmaster@" + std::string(r.helo) : std::string(r.sender), 254);
    std::string explanation = !o.explanation.empty() ? o.explanation
                              : !o.problem.empty()   ? "SPF " + result + ": " + o.problem
                                                     : "SPF " + result;
    explanation = spf_reply_safe(explanation, 300);
    std::string reason = "spf: " + result + " for " + o.identity + " " + o.domain;
    if (!o.mechanism.empty()) reason += " (" + o.mechanism + ")";
    const bool reject = action == Action::reject;
    Decision d =
        Decision::from(reject ? reject_reply_ : defer_reply_,
                       {{"sender", sender}, {"result", result}, {"explanation", explanation}},
                       reject ? "reject" : "defer", spf_reply_safe(reason, 300));
    if (reject) d.report_row = stats::row::spf_fail;
    co_return d;
  }
  if (action == Action::greylist) {
    // Forced like a DNSBL score: whitelisted recipients and the auto-whitelist
    // do not get past it, with the greylist's own delay unless DNSBL set one.
    f->forces_greylisting = true;
    tx.notes.push_back("spf_action=greylist");
  }
  if (o.result == spf::Result::pass && spf_.pass_skips_callout) f->skips_callout = true;
  // Only a request that goes on gets the header: a deferred or rejected
  // recipient must not leave one queued for the rest of the message.
  // The bound is far above what the header's parts (an address, two names of
  // at most 255 bytes, a short comment) can add up to: it only cleans.
  if (spf_.header && !f->header.empty()) tx.headers.push_back(spf_reply_safe(f->header, 2000));
  co_return std::nullopt;
}

}  // namespace mailsan::policyd
