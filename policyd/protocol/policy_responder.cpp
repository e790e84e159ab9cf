#include "policyd/protocol/policy_responder.hpp"

#include "common/log/log.hpp"

namespace mailsan::policyd {
namespace {

using Clock = std::chrono::steady_clock;

CheckRequest::Stage stage_of(std::string_view protocol_state) {
  using Stage = CheckRequest::Stage;
  if (protocol_state == "RCPT") return Stage::rcpt;
  if (protocol_state == "DATA") return Stage::data;
  if (protocol_state == "END-OF-MESSAGE") return Stage::end_of_message;
  if (protocol_state == "MAIL") return Stage::mail;
  if (protocol_state == "HELO" || protocol_state == "EHLO") return Stage::helo;
  if (protocol_state == "CONNECT") return Stage::connect;
  return Stage::other;
}

}  // namespace

CheckRequest to_check_request(PolicyRequest request) {
  // The request's own bytes become the check request's storage: one
  // allocation, and every value a view into it.
  auto owner = std::make_shared<const PolicyRequest>(std::move(request));
  const PolicyRequest& r = *owner;
  CheckRequest c;
  c.stage = stage_of(r.protocol_state());
  c.client_address = r.client_address();
  c.client_ip = net::IpAddress::parse(c.client_address);
  c.client_name = r.client_name();
  c.helo = r.helo_name();
  c.sender = r.sender();
  c.recipient = r.recipient();
  c.sasl_username = r.sasl_username();
  c.ccert_fingerprint = r.ccert_fingerprint();
  c.instance = r.instance();
  c.queue_id = r.queue_id();
  c.storage = std::move(owner);
  return c;
}

std::string policy_action(const Decision& d) {
  std::string out;
  out.reserve(24 + d.status.size() + d.text.size());
  switch (d.kind) {
    case DecisionKind::proceed:
      return "DUNNO";
    case DecisionKind::accept:
      return "OK";
    case DecisionKind::defer_if_permit:
      out = "DEFER_IF_PERMIT";
      break;
    case DecisionKind::defer:
      out = d.code != 0 ? std::to_string(d.code) : "DEFER";
      break;
    case DecisionKind::reject:
      out = d.code != 0 ? std::to_string(d.code) : "REJECT";
      break;
  }
  if (!d.status.empty()) out.append(" ").append(d.status);
  if (!d.text.empty()) out.append(" ").append(d.text);
  return out;
}

boost::asio::awaitable<std::string> PolicyResponder::answer(PolicyRequest request,
                                                            MessageHeaders& headers) {
  auto start = Clock::now();
  metrics_.requests.inc();
  headers.begin(request.instance());

  // Only RCPT is checked (SPEC §2); at the other stages a due header is handed
  // out, which is why the shipped wiring also asks at DATA.
  if (request.protocol_state() != "RCPT") {
    std::string h = headers.next();
    metrics_.verdict(h.empty() ? "dunno" : "prepend").inc();
    co_return h.empty() ? std::string("DUNNO") : "PREPEND " + h;
  }

  // Held for the request: a reload may swap pipeline_ meanwhile.
  std::shared_ptr<const Pipeline> pipeline = pipeline_;
  std::shared_ptr<Transaction> tx =
      co_await pipeline->evaluate(to_check_request(std::move(request)));
  Decision& decision = tx->decision;
  for (auto& h : decision.headers) headers.add(std::move(h));
  std::string action = policy_action(decision);
  if (decision.kind == DecisionKind::proceed) {
    if (std::string h = headers.next(); !h.empty()) {
      action = "PREPEND " + h;
      if (decision.verdict == "dunno") decision.verdict = "prepend";
    }
  }
  metrics_.verdict(decision.verdict).inc();
  if (log::min_level() <= log::Level::info)
    pipeline->log(*tx, action,
                  std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  co_return action;
}

}  // namespace mailsan::policyd
