// One check of the pipeline (SPEC §2.1). A check may start lookups, which run
// concurrently with every other check's lookups under the request deadline,
// and then takes its verdict in pipeline order. Checks know nothing of the
// protocol that carried the question, so a milter front end can reuse them.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string_view>

#include "policyd/pipeline/transaction.hpp"

namespace mailsan::policyd {

class Check {
 public:
  virtual ~Check() = default;
  virtual std::string_view name() const = 0;
  // False while the check is switched off by its configuration: the pipeline
  // then skips it altogether, so a check that is not used costs nothing.
  virtual bool enabled() const { return true; }
  // Network lookups whose results decide() reads from the transaction. The
  // default has none.
  virtual bool has_lookup() const { return false; }
  virtual boost::asio::awaitable<void> lookup(Transaction&) { co_return; }
  // A decisive verdict, or nullopt to let the next check decide.
  virtual boost::asio::awaitable<std::optional<Decision>> decide(Transaction& tx) = 0;
};

}  // namespace mailsan::policyd
