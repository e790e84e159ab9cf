#include "policyd/whitelist/whitelist_check.hpp"

namespace mailsan::policyd {

boost::asio::awaitable<std::optional<Decision>> WhitelistCheck::decide(Transaction& tx) {
  const Whitelist& w = *whitelist_;
  const CheckRequest& r = tx.request;
  auto skip = [&](const char* why) {
    metrics_.check_outcome("whitelist", why).inc();
    return Decision::proceed("skip", std::string("whitelist: ") + why);
  };
  if (w.sasl_authenticated && !r.sasl_username.empty()) co_return skip("sasl_authenticated");
  if (w.clients.matches(r.client_ip ? &*r.client_ip : nullptr, r.client_address, r.client_name))
    co_return skip("client");
  if (w.fingerprint_listed(r.ccert_fingerprint)) co_return skip("ccert_fingerprint");
  if (w.recipients.matches(r.recipient)) {
    tx.findings.record(RecipientWhitelisted{});
    tx.notes.push_back("whitelist=recipient");
    metrics_.check_outcome("whitelist", "recipient").inc();
  }
  co_return std::nullopt;
}

std::shared_ptr<Check> make_whitelist_check(const PolicydConfig& config, CheckServices& services) {
  return std::make_shared<WhitelistCheck>(Whitelist::build(config.whitelist), services.metrics);
}

}  // namespace mailsan::policyd
