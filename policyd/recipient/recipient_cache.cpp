#include "policyd/recipient/recipient_cache.hpp"

namespace mailsan::policyd {

void RecipientCache::configure(std::size_t max_entries, std::chrono::seconds found_ttl,
                               std::chrono::seconds unknown_ttl) {
  max_entries_ = max_entries;
  found_ttl_ = found_ttl;
  unknown_ttl_ = unknown_ttl;
  items_.clear();
  index_.clear();
}

std::optional<RecipientCache::Answer> RecipientCache::get(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  if (it->second->expires <= now_()) {
    items_.erase(it->second);
    index_.erase(it);
    return std::nullopt;
  }
  items_.splice(items_.begin(), items_, it->second);
  return it->second->answer;
}

void RecipientCache::put(const std::string& key, Answer answer) {
  std::chrono::seconds ttl = answer == Answer::found ? found_ttl_ : unknown_ttl_;
  if (max_entries_ == 0 || ttl.count() <= 0) return;
  Clock::time_point expires = now_() + ttl;
  if (auto it = index_.find(key); it != index_.end()) {
    it->second->answer = answer;
    it->second->expires = expires;
    items_.splice(items_.begin(), items_, it->second);
    return;
  }
  while (index_.size() >= max_entries_) {
    index_.erase(items_.back().key);
    items_.pop_back();
  }
  items_.push_front({key, answer, expires});
  index_.emplace(key, items_.begin());
}

}  // namespace mailsan::policyd
