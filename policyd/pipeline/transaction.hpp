// What the checks of one request share: the request (held by value), the
// findings of earlier checks, the headers due, and notes and timings for the
// decision log. Owned through a shared_ptr by the pipeline and by every
// lookup, so a lookup that outlives the request's deadline finishes on
// memory that is still its own.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "policyd/pipeline/check_request.hpp"
#include "policyd/pipeline/decision.hpp"
#include "policyd/pipeline/findings.hpp"

namespace mailsan::policyd {

struct CheckTiming {
  std::string_view check;
  double milliseconds;
};

struct Transaction {
  explicit Transaction(CheckRequest r) : request(std::move(r)) {}

  const CheckRequest request;
  // When the request arrived: checks that wait in decide() (the callout)
  // measure what is left of request_timeout from here.
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  Findings findings;
  std::vector<std::string> headers;  // headers a check wants added to the message
  std::vector<std::string> notes;    // "greylist=pass" etc., for the decision log
  std::vector<CheckTiming> timings;
  // The request's answer, set by the pipeline (with the headers due).
  Decision decision = Decision::proceed("dunno");
};

}  // namespace mailsan::policyd
