// The pipeline's first check (SPEC §2.1 step 1).
#pragma once

#include <memory>

#include "policyd/pipeline/check.hpp"
#include "policyd/policyd_metrics.hpp"
#include "policyd/whitelist/whitelist.hpp"

namespace mailsan::policyd {

class WhitelistCheck : public Check {
 public:
  explicit WhitelistCheck(PolicydMetrics& metrics) : metrics_(metrics) {}
  // Swaps in a new snapshot; requests in flight keep the old one.
  void set(std::shared_ptr<const Whitelist> whitelist) { whitelist_ = std::move(whitelist); }

  std::string_view name() const override { return "whitelist"; }
  boost::asio::awaitable<std::optional<Decision>> decide(Transaction& tx) override;

 private:
  PolicydMetrics& metrics_;
  std::shared_ptr<const Whitelist> whitelist_ = std::make_shared<Whitelist>();
};

}  // namespace mailsan::policyd
