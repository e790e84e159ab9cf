#include "policyd/callout/domain_limiter.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace mailsan::policyd {
namespace asio = boost::asio;

asio::awaitable<DomainLimiter::Slot> DomainLimiter::acquire(std::string domain) {
  Domain& d = domains_[domain];
  if (d.active < per_domain_) {
    ++d.active;
    co_return Slot(this, std::move(domain));
  }
  auto waiter = std::make_shared<Waiter>(Waiter{asio::steady_timer(executor_), false});
  waiter->wake.expires_at(asio::steady_timer::time_point::max());
  d.waiting.push_back(waiter);
  co_await waiter->wake.async_wait(asio::as_tuple(asio::use_awaitable));
  if (waiter->granted) co_return Slot(this, std::move(domain));
  // Cancelled before a slot came: leave the queue (the map entry may have
  // been rehashed meanwhile, so look it up again).
  auto it = domains_.find(domain);
  if (it != domains_.end()) {
    auto& q = it->second.waiting;
    for (auto w = q.begin(); w != q.end(); ++w)
      if (*w == waiter) {
        q.erase(w);
        break;
      }
  }
  co_return Slot();
}

void DomainLimiter::release(const std::string& domain) {
  auto it = domains_.find(domain);
  if (it == domains_.end()) return;
  Domain& d = it->second;
  // The slot passes straight to the next waiter, so a newcomer cannot take it
  // in between.
  if (!d.waiting.empty()) {
    auto next = d.waiting.front();
    d.waiting.pop_front();
    next->granted = true;
    next->wake.cancel();
    return;
  }
  if (--d.active == 0) domains_.erase(it);
}

std::size_t DomainLimiter::active(const std::string& domain) const {
  auto it = domains_.find(domain);
  return it == domains_.end() ? 0 : it->second.active;
}

}  // namespace mailsan::policyd
