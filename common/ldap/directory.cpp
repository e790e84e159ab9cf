// Directory: a bounded queue in front of a fixed set of worker threads, each
// with its own Connection. A search waits in the queue, runs on a worker and
// its result is posted to the caller's executor. The caller's completion
// handler sits in a Pending shared by the queue and the caller's
// cancellation slot; whoever takes it out first (worker, canceller or
// shutdown) completes the search, so it completes exactly once.
#include "common/ldap/directory.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "common/ldap/connection.hpp"

namespace mailsan::ldap {

namespace asio = boost::asio;

namespace {

// Searches are always awaited through use_awaitable, so the handler has one
// concrete type and is stored without type erasure.
using Handler = asio::async_result<std::decay_t<decltype(asio::use_awaitable)>,
                                   void(SearchResult)>::handler_type;

struct Request {
  std::string base;
  std::string filter;
  std::vector<std::string> attributes;
};

SearchResult unavailable(std::string why) {
  SearchResult result;
  result.status = SearchResult::Status::unavailable;
  result.error = std::move(why);
  return result;
}

struct Pending {
  Request request;
  asio::any_io_executor fallback;
  std::mutex mutex;
  std::optional<Handler> handler;  // empty once completed

  // Returns false when the search was already completed (cancelled).
  bool complete(SearchResult result) {
    std::optional<Handler> taken;
    {
      std::lock_guard lock(mutex);
      if (!handler) return false;
      taken.emplace(std::move(*handler));
      handler.reset();
    }
    // Posted even from the caller's own thread: the handler never runs
    // inside the code that completes it. From a worker, this is also the
    // only safe way to touch the caller's coroutine.
    auto ex = asio::get_associated_executor(*taken, fallback);
    asio::post(ex, [h = std::move(*taken), r = std::move(result)]() mutable {
      std::move(h)(std::move(r));
    });
    return true;
  }

  bool completed() {
    std::lock_guard lock(mutex);
    return !handler;
  }
};

// Lives in the caller's cancellation slot; a late signal finds the search
// completed (or gone) and does nothing.
struct CancelSearch {
  std::weak_ptr<Pending> pending;
  void operator()(asio::cancellation_type type) const {
    if (type == asio::cancellation_type::none) return;
    if (auto locked = pending.lock()) locked->complete(unavailable("cancelled"));
  }
};

}  // namespace

struct Directory::Impl : std::enable_shared_from_this<Directory::Impl> {
  Impl(asio::any_io_executor ex, Options opts) : ex_(std::move(ex)), options_(std::move(opts)) {
    if (options_.workers == 0) options_.workers = 1;
    workers_.reserve(options_.workers);
    try {
      for (std::size_t i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
    } catch (...) {
      shutdown();  // threads already started must be joined before unwinding
      throw;
    }
  }

  static asio::awaitable<SearchResult> run(std::shared_ptr<Impl> self, Request request) {
    // Named before the co_await: g++ 12 may destroy temporaries inside a
    // co_await expression twice.
    auto submitted = self->async_submit(std::move(request));
    SearchResult result = co_await std::move(submitted);
    co_return result;
  }

  asio::awaitable<SearchResult> async_submit(Request request) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(SearchResult)>(
        [self = shared_from_this()](Handler handler, Request r) {
          self->submit(std::move(r), std::move(handler));
        },
        asio::use_awaitable, std::move(request));
  }

  void submit(Request request, Handler handler) {
    auto pending = std::make_shared<Pending>();
    pending->request = std::move(request);
    pending->fallback = ex_;
    auto slot = asio::get_associated_cancellation_slot(handler);
    pending->handler.emplace(std::move(handler));
    // Installed before the search is visible to a worker: once queued, the
    // handler may be resumed on another thread at any moment.
    if (slot.is_connected()) slot.template emplace<CancelSearch>(pending);

    std::string refused;
    {
      std::lock_guard lock(mutex_);
      if (stopping_)
        refused = "directory shut down";
      else if (queue_.size() >= options_.queue_limit)
        refused = "busy";
      else
        queue_.push_back(pending);
    }
    if (!refused.empty()) {
      pending->complete(unavailable(std::move(refused)));
      return;
    }
    wake_.notify_one();
  }

  void work() {
    std::unique_ptr<Connection> connection;
    for (;;) {
      std::shared_ptr<Pending> pending;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        pending = std::move(queue_.front());
        queue_.pop_front();
      }
      if (pending->completed()) continue;  // cancelled while queued
      SearchResult result;
      try {
        result = perform(connection, pending->request);
      } catch (const std::exception& e) {
        connection.reset();
        result = unavailable(e.what());
      }
      pending->complete(std::move(result));
    }
  }

  SearchResult perform(std::unique_ptr<Connection>& connection, const Request& request) {
    // A kept connection may have been closed by the server meanwhile (a
    // restart, an idle timeout); that one failure is worth one retry on a
    // fresh connection. Anything else, and any failure of a fresh
    // connection, is reported at once: a down server costs each search one
    // connect attempt and a stalled one a single timeout, no more.
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool reused = connection != nullptr;
      if (!connection) {
        std::string error;
        connection = Connection::open(options_, error);
        if (!connection) return unavailable(std::move(error));
      }
      auto outcome =
          connection->search(request.base, request.filter, request.attributes, options_.timeout);
      if (!outcome.broken) return std::move(outcome.result);
      connection.reset();
      if (!reused || !outcome.closed) return std::move(outcome.result);
    }
    return unavailable("connection lost");
  }

  void shutdown() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
    // No worker is left to take these; nothing else can queue now.
    std::deque<std::shared_ptr<Pending>> left;
    {
      std::lock_guard lock(mutex_);
      left.swap(queue_);
    }
    for (auto& pending : left) pending->complete(unavailable("directory shut down"));
  }

  asio::any_io_executor ex_;
  Options options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Pending>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

Directory::Directory(asio::any_io_executor ex, Options options)
    : impl_(std::make_shared<Impl>(std::move(ex), std::move(options))) {}

Directory::~Directory() {
  impl_->shutdown();
}

asio::awaitable<SearchResult> Directory::search(std::string base, std::string filter,
                                                std::vector<std::string> attributes) {
  // Not a coroutine itself: the arguments are moved into the request now,
  // so nothing refers to the caller's strings once this returns.
  return Impl::run(impl_, Request{std::move(base), std::move(filter), std::move(attributes)});
}

}  // namespace mailsan::ldap
