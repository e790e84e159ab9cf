// Bounds the callouts to one destination domain (SPEC §2.1 step 5,
// [callout] max_per_domain): a domain whose MX is slow must not collect
// hundreds of our connections, nor look to its owner like an attack. Callouts
// past the bound wait their turn in arrival order.
//
// Single-threaded: use from the executor's thread only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <string>

namespace mailsan::policyd {

class DomainLimiter {
 public:
  // Releases its slot when destroyed, handing it to the next waiter.
  class Slot {
   public:
    Slot() = default;
    Slot(DomainLimiter* owner, std::string domain) : owner_(owner), domain_(std::move(domain)) {}
    Slot(Slot&& other) noexcept : owner_(other.owner_), domain_(std::move(other.domain_)) {
      other.owner_ = nullptr;
    }
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (owner_) owner_->release(domain_);
    }

   private:
    DomainLimiter* owner_ = nullptr;
    std::string domain_;
  };

  DomainLimiter(boost::asio::any_io_executor ex, std::size_t per_domain)
      : executor_(std::move(ex)), per_domain_(per_domain) {}
  void set_limit(std::size_t per_domain) { per_domain_ = per_domain; }

  // Waits for a slot; cancellable (the caller then holds none).
  boost::asio::awaitable<Slot> acquire(std::string domain);
  std::size_t active(const std::string& domain) const;

 private:
  struct Waiter {
    boost::asio::steady_timer wake;
    bool granted = false;
  };
  struct Domain {
    std::size_t active = 0;
    std::deque<std::shared_ptr<Waiter>> waiting;
  };
  void release(const std::string& domain);

  boost::asio::any_io_executor executor_;
  std::size_t per_domain_;
  std::map<std::string, Domain, std::less<>> domains_;
};

}  // namespace mailsan::policyd
