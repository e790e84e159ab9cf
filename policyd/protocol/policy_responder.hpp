// The Postfix policy front end of the check pipeline: turns a policy request
// into a CheckRequest, the pipeline's Decision into an `action=` value, and
// keeps what only this protocol needs: stage gating (checks decide at RCPT;
// at the other stages a due header is handed out) and the one header per
// reply of MessageHeaders.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>

#include "policyd/pipeline/check_request.hpp"
#include "policyd/pipeline/decision.hpp"
#include "policyd/pipeline/pipeline.hpp"
#include "policyd/policyd_metrics.hpp"
#include "policyd/protocol/message_headers.hpp"
#include "policyd/protocol/policy_request.hpp"

namespace mailsan::policyd {

// The request, handed over: the check request's values are views into it,
// and it lives as long as any copy of the check request.
CheckRequest to_check_request(PolicyRequest request);

// The policy action for a decision, without "action=" (DUNNO, OK,
// DEFER_IF_PERMIT 4.7.1 ..., 550 5.1.1 ...). Headers are not part of it.
std::string policy_action(const Decision& decision);

class PolicyResponder {
 public:
  PolicyResponder(std::shared_ptr<const Pipeline> pipeline, PolicydMetrics& metrics)
      : pipeline_(std::move(pipeline)), metrics_(metrics) {}

  // A reload's new pipeline; requests in flight keep the one they started
  // with.
  void set_pipeline(std::shared_ptr<const Pipeline> pipeline) { pipeline_ = std::move(pipeline); }
  const std::shared_ptr<const Pipeline>& pipeline() const { return pipeline_; }

  // The policy action for one request (without "action="). Never throws.
  boost::asio::awaitable<std::string> answer(PolicyRequest request, MessageHeaders& headers);

 private:
  std::shared_ptr<const Pipeline> pipeline_;
  PolicydMetrics& metrics_;
};

}  // namespace mailsan::policyd
