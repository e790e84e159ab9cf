#include "policyd/whitelist/whitelist_check.hpp"

namespace mailsan::policyd {

boost::asio::awaitable<std::optional<Decision>> WhitelistCheck::decide(Transaction& tx) {
  const Whitelist& w = *whitelist_;
  const auto& r = tx.request;
  auto skip = [&](const char* why) {
    tx.skip_all = true;
    metrics_.check_outcome("whitelist", why).inc();
    return Decision{"DUNNO", "skip", std::string("whitelist: ") + why};
  };
  if (w.sasl_authenticated && !r.sasl_username().empty()) co_return skip("sasl_authenticated");
  if (w.clients.matches(tx.client_ip ? &*tx.client_ip : nullptr, r.client_address(),
                        r.client_name()))
    co_return skip("client");
  if (w.fingerprint_listed(r.ccert_fingerprint())) co_return skip("ccert_fingerprint");
  if (w.recipients.matches(r.recipient())) {
    tx.skip_greylist = true;
    tx.notes.push_back("whitelist=recipient");
    metrics_.check_outcome("whitelist", "recipient").inc();
  }
  co_return std::nullopt;
}

}  // namespace mailsan::policyd
