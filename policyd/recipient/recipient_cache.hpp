// The in-process memory of recipient lookups (SPEC §2.1 step 2): most mail
// goes to a few addresses, so the directory is asked once per address and
// TTL rather than once per RCPT. Found and unknown answers have TTLs of their
// own; an answer the directory could not give is never stored, so the next
// request asks again. Bounded: the least recently used entry goes first.
// Called from the I/O thread only; not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>

namespace mailsan::policyd {

class RecipientCache {
 public:
  enum class Answer { found, unknown };
  using Clock = std::chrono::steady_clock;
  // Injectable so that expiry is tested without sleeping.
  using Now = std::function<Clock::time_point()>;

  explicit RecipientCache(Now now = &Clock::now) : now_(std::move(now)) {}

  // Drops every entry: the filters may have changed what an address means.
  void configure(std::size_t max_entries, std::chrono::seconds found_ttl,
                 std::chrono::seconds unknown_ttl);
  // The cached answer for key (a lower-cased address), unless it expired.
  std::optional<Answer> get(const std::string& key);
  void put(const std::string& key, Answer answer);
  std::size_t size() const { return index_.size(); }

 private:
  struct Item {
    std::string key;
    Answer answer;
    Clock::time_point expires;
  };
  Now now_;
  std::size_t max_entries_ = 0;
  std::chrono::seconds found_ttl_{0};
  std::chrono::seconds unknown_ttl_{0};
  std::list<Item> items_;  // most recently used first
  std::unordered_map<std::string, std::list<Item>::iterator> index_;
};

}  // namespace mailsan::policyd
