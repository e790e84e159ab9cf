// Resolver: the cache, the sharing of lookups, retries and callers'
// cancellation on top of one AresChannel.
//
// A lookup is keyed by (lower-cased name, type). The first caller starts it;
// callers asking for the same key while it runs wait on it (coalesced). When
// it ends, the answer goes into the cache and to every waiter. Completion
// handlers are always posted, never run from inside c-ares, so a resumed
// caller may query again or destroy the Resolver.
//
// Retries are done here rather than by c-ares (see ares_channel.cpp): a try
// that times out is sent again until options.tries are spent, each at the
// same per-try timeout.
#include "common/dns/resolver.hpp"

#include <ares.h>
#include <arpa/nameser.h>

#include <algorithm>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <list>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "common/dns/ares_channel.hpp"
#include "common/dns/message.hpp"
#include "common/dns/names.hpp"

namespace mailsan::dns {

namespace asio = boost::asio;

std::string_view to_string(Status status) {
  switch (status) {
    case Status::ok:
      return "ok";
    case Status::nxdomain:
      return "nxdomain";
    case Status::nodata:
      return "nodata";
    case Status::servfail:
      return "servfail";
    case Status::refused:
      return "refused";
    case Status::timeout:
      return "timeout";
    case Status::error:
      return "error";
  }
  return "error";
}

namespace {

using Clock = std::chrono::steady_clock;
// Queries are always awaited through use_awaitable, so the handler has one
// concrete type and is stored without type erasure.
using Handler =
    asio::async_result<std::decay_t<decltype(asio::use_awaitable)>, void(Answer)>::handler_type;

int wire_type(RecordType type) {
  switch (type) {
    case RecordType::a:
      return ns_t_a;
    case RecordType::aaaa:
      return ns_t_aaaa;
    case RecordType::txt:
      return ns_t_txt;
    case RecordType::mx:
      return ns_t_mx;
    case RecordType::ptr:
      return ns_t_ptr;
  }
  return ns_t_a;
}

struct Key {
  std::string name;
  RecordType type;
  bool operator==(const Key&) const = default;
};

struct KeyHash {
  std::size_t operator()(const Key& key) const {
    return std::hash<std::string>()(key.name) * 31 + static_cast<std::size_t>(key.type);
  }
};

std::vector<ServerAddress> parse_servers(const std::vector<std::string>& entries) {
  std::vector<ServerAddress> servers;
  for (const std::string& entry : entries) {
    auto server = parse_server(entry);
    if (!server) throw std::invalid_argument("malformed DNS server address: \"" + entry + "\"");
    servers.push_back(*server);
  }
  return servers;
}

std::uint32_t seconds(std::chrono::seconds s) {
  return static_cast<std::uint32_t>(
      std::clamp<std::chrono::seconds::rep>(s.count(), 0, UINT32_MAX));
}

}  // namespace

struct Resolver::Impl : std::enable_shared_from_this<Resolver::Impl> {
  struct Waiter {
    std::uint64_t id;
    std::optional<Handler> handler;  // empty once the caller was cancelled
  };
  struct Lookup {
    Impl* impl;
    Key key;
    int tries_left;
    std::vector<Waiter> waiters;
  };
  struct CacheEntry {
    Key key;
    Answer answer;
    Clock::time_point expires;
  };
  using CacheList = std::list<CacheEntry>;

  // Lives in the caller's cancellation slot; a stale signal (the lookup or
  // the resolver gone, the waiter already answered) finds nothing.
  struct CancelWaiter {
    std::weak_ptr<Impl> impl;
    std::weak_ptr<Lookup> lookup;
    std::uint64_t id;
    void operator()(asio::cancellation_type type) const {
      if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial)) ==
          asio::cancellation_type::none)
        return;
      auto locked_impl = impl.lock();
      auto locked_lookup = lookup.lock();
      if (locked_impl && locked_lookup) locked_impl->cancel(*locked_lookup, id);
    }
  };

  Impl(asio::any_io_executor ex, ResolverOptions opts) : ex_(ex), options_(std::move(opts)) {
    if (options_.tries < 1) options_.tries = 1;
    channel_ = AresChannel::open(ex_, parse_servers(options_.servers), options_.timeout);
  }

  Clock::time_point now() const { return options_.clock ? options_.clock() : Clock::now(); }

  static asio::awaitable<Answer> run(std::shared_ptr<Impl> self, std::string name,
                                     RecordType type) {
    ++self->stats_.queries;
    auto normalized = normalize_name(name);
    if (!normalized || !self->channel_->is_open()) {
      ++self->stats_.failures;
      co_return Answer{};
    }
    Key key{std::move(*normalized), type};
    if (auto cached = self->from_cache(key)) {
      ++self->stats_.cache_hits;
      co_return std::move(*cached);
    }
    // Built before the co_await: g++ 12 destroys temporaries inside a
    // co_await expression twice (a lambda capturing a shared_ptr there
    // freed the Impl).
    auto joined = self->async_join(std::move(key));
    Answer answer = co_await std::move(joined);
    co_return answer;
  }

  asio::awaitable<Answer> async_join(Key key) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(Answer)>(
        [self = shared_from_this()](Handler handler, Key k) {
          self->join(std::move(k), std::move(handler));
        },
        asio::use_awaitable, std::move(key));
  }

  // --- cache ------------------------------------------------------------

  std::optional<Answer> from_cache(const Key& key) {
    auto it = cache_index_.find(key);
    if (it == cache_index_.end()) return std::nullopt;
    const auto current = now();
    if (it->second->expires <= current) {
      cache_.erase(it->second);
      cache_index_.erase(it);
      return std::nullopt;
    }
    cache_.splice(cache_.begin(), cache_, it->second);  // most recently used first
    Answer answer = it->second->answer;
    answer.from_cache = true;
    answer.ttl = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::seconds>(it->second->expires - current).count());
    return answer;
  }

  void store(const Key& key, const Answer& answer) {
    if (options_.cache_entries == 0 || answer.ttl == 0) return;
    const auto expires = now() + std::chrono::seconds(answer.ttl);
    if (auto it = cache_index_.find(key); it != cache_index_.end()) {
      it->second->answer = answer;
      it->second->expires = expires;
      cache_.splice(cache_.begin(), cache_, it->second);
      return;
    }
    cache_.push_front(CacheEntry{key, answer, expires});
    cache_index_.emplace(key, cache_.begin());
    while (cache_.size() > options_.cache_entries) {
      cache_index_.erase(cache_.back().key);
      cache_.pop_back();
    }
  }

  // --- lookups ----------------------------------------------------------

  void join(Key key, Handler handler) {
    auto slot = asio::get_associated_cancellation_slot(handler);
    std::shared_ptr<Lookup> lookup;
    bool start = false;
    if (auto it = in_flight_.find(key); it != in_flight_.end()) {
      lookup = it->second;
      ++stats_.coalesced;
    } else {
      lookup = std::make_shared<Lookup>(Lookup{this, key, options_.tries, {}});
      in_flight_.emplace(std::move(key), lookup);
      start = true;
    }
    const std::uint64_t id = ++last_waiter_id_;
    lookup->waiters.push_back(Waiter{id, std::move(handler)});
    if (slot.is_connected()) slot.template emplace<CancelWaiter>(weak_from_this(), lookup, id);
    // Last: c-ares may call back from inside the send (a closed channel).
    if (start) {
      ++stats_.sent;
      send(*lookup);
    }
  }

  void send(Lookup& lookup) {
    --lookup.tries_left;
    channel_->query(lookup.key.name, wire_type(lookup.key.type), &Impl::on_reply, &lookup);
  }

  static void on_reply(void* arg, int status, int, unsigned char* abuf, int alen) {
    auto& lookup = *static_cast<Lookup*>(arg);
    Impl& impl = *lookup.impl;
    if ((status == ARES_ETIMEOUT || status == ARES_ECONNREFUSED) && lookup.tries_left > 0 &&
        impl.channel_->is_open()) {
      impl.send(lookup);
      return;
    }
    Answer answer;
    if (status != ARES_EDESTRUCTION) {
      const std::span<const unsigned char> message(
          abuf, abuf != nullptr && alen > 0 ? static_cast<std::size_t>(alen) : 0);
      ParsedAnswer parsed = parse_answer(lookup.key.type, status, message);
      answer = std::move(parsed.answer);
      answer.ttl = impl.cache_ttl(answer.status, parsed.ttl);
    }
    impl.finish(lookup, std::move(answer));
  }

  std::uint32_t cache_ttl(Status status, std::optional<std::uint32_t> ttl) const {
    switch (status) {
      case Status::ok:
        return std::clamp(ttl.value_or(0), seconds(options_.min_ttl),
                          std::max(seconds(options_.min_ttl), seconds(options_.max_ttl)));
      case Status::nxdomain:
      case Status::nodata:
        return std::min(ttl.value_or(UINT32_MAX), seconds(options_.negative_ttl));
      default:
        return 0;  // failures are asked again next time
    }
  }

  void finish(Lookup& lookup, Answer answer) {
    auto node = in_flight_.extract(lookup.key);
    // node keeps the lookup alive to the end of this function.
    if (answer.status == Status::timeout) ++stats_.timeouts;
    if (answer.status == Status::servfail || answer.status == Status::refused ||
        answer.status == Status::error)
      ++stats_.failures;
    store(lookup.key, answer);
    for (Waiter& waiter : lookup.waiters)
      if (waiter.handler) post_answer(std::move(*waiter.handler), answer);
    lookup.waiters.clear();
  }

  void cancel(Lookup& lookup, std::uint64_t id) {
    for (Waiter& waiter : lookup.waiters) {
      if (waiter.id != id || !waiter.handler) continue;
      Handler handler = std::move(*waiter.handler);
      waiter.handler.reset();
      ++stats_.cancelled;
      Answer answer;
      answer.status = Status::timeout;
      post_answer(std::move(handler), std::move(answer));
      return;
    }
  }

  void post_answer(Handler handler, Answer answer) {
    auto ex = asio::get_associated_executor(handler, ex_);
    asio::post(ex, [handler = std::move(handler), answer = std::move(answer)]() mutable {
      std::move(handler)(std::move(answer));
    });
  }

  void shutdown() {
    // Every lookup's callback runs inside close() with ARES_EDESTRUCTION and
    // its waiters get Status::error, posted.
    channel_->close();
  }

  asio::any_io_executor ex_;
  ResolverOptions options_;
  std::shared_ptr<AresChannel> channel_;
  ResolverStats stats_;
  std::unordered_map<Key, std::shared_ptr<Lookup>, KeyHash> in_flight_;
  CacheList cache_;
  std::unordered_map<Key, CacheList::iterator, KeyHash> cache_index_;
  std::uint64_t last_waiter_id_ = 0;
};

Resolver::Resolver(asio::any_io_executor ex, ResolverOptions options)
    : impl_(std::make_shared<Impl>(std::move(ex), std::move(options))) {}

Resolver::~Resolver() {
  impl_->shutdown();
}

asio::awaitable<Answer> Resolver::query(std::string_view name, RecordType type) {
  // The name is copied now, not when the coroutine first runs, so the
  // caller's string need not outlive this call.
  return Impl::run(impl_, std::string(name), type);
}

const ResolverStats& Resolver::stats() const {
  return impl_->stats_;
}

void Resolver::clear_cache() {
  impl_->cache_.clear();
  impl_->cache_index_.clear();
}

}  // namespace mailsan::dns
