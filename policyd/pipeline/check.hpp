// One check of the policy pipeline (SPEC §2.1). A check is built from the
// configuration (see policyd/checks.cpp) and is immutable afterwards: a
// reload builds a new pipeline, and requests in flight keep the one they
// started with. A check may start lookups, which run concurrently with every
// other check's lookups under the request deadline, and then takes its
// verdict in pipeline order. Checks know nothing of the protocol that
// carried the question, so every front end reuses them.
#pragma once

#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string_view>

#include "policyd/pipeline/decision.hpp"
#include "policyd/pipeline/transaction.hpp"

namespace mailsan::policyd {

class Check {
 public:
  virtual ~Check() = default;
  virtual std::string_view name() const = 0;
  // True for checks that decide from the request alone (whitelists): they
  // decide before any lookup starts, so a decisive answer costs no DNS,
  // LDAP or Redis query.
  virtual bool decides_before_lookups() const { return false; }
  // Network lookups whose results decide() reads from the transaction's
  // findings. The default has none.
  virtual bool has_lookup() const { return false; }
  virtual boost::asio::awaitable<void> lookup(Transaction&) { co_return; }
  // A decisive verdict, or nullopt to let the next check decide.
  virtual boost::asio::awaitable<std::optional<Decision>> decide(Transaction& tx) = 0;
};

}  // namespace mailsan::policyd

namespace mailsan::policyd {

// How long a check's lookups may wait: until 0.5 s before request_timeout,
// so that a slow backend costs that check's own failure outcome (a zone
// scoring 0, an SPF temperror, an LDAP 451) and not the whole request's
// verdict. At least 0.5 s.
inline std::chrono::milliseconds lookup_budget(std::chrono::seconds request_timeout) {
  using std::chrono::milliseconds;
  return std::max(milliseconds(500),
                  std::chrono::duration_cast<milliseconds>(request_timeout) - milliseconds(500));
}

}  // namespace mailsan::policyd
