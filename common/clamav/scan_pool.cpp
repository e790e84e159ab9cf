// ScanPool: a queue of Pending scans in front of a fixed set of worker
// threads. Each Pending holds the caller's completion handler and a state
// (queued, running, done) under its own mutex; the worker, the caller's
// cancellation and the shutdown each move it on, so it completes exactly
// once, and never while its worker reads the caller's data.
#include "common/clamav/scan_pool.hpp"

#include <malloc.h>

#include <algorithm>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace mailsan::clamav {

namespace asio = boost::asio;

namespace {

// Scans are always awaited through use_awaitable, so the handler has one
// concrete type and is stored without type erasure.
using Handler =
    asio::async_result<std::decay_t<decltype(asio::use_awaitable)>, void(ScanResult)>::handler_type;

using Job = std::function<ScanResult(const Engine&, const std::atomic<bool>*)>;

struct Pending {
  enum class State { queued, running, done };

  Job job;
  std::uint64_t size = 0;  // of the message: which workers may take it
  std::atomic<bool> cancel{false};
  std::mutex mutex;
  State state = State::queued;
  std::optional<Handler> handler;
  // Keeps the caller's event loop from running out of work while the scan
  // is away on a worker.
  asio::any_io_executor work;

  // Moves a queued scan to running; false when it was completed meanwhile.
  bool start() {
    std::lock_guard lock(mutex);
    if (state != State::queued) return false;
    state = State::running;
    return true;
  }

  // Completes the scan with result, from the worker (running) or from
  // whoever gives up a scan that never started (queued).
  void complete(ScanResult result) {
    std::optional<Handler> taken;
    asio::any_io_executor guard;
    {
      std::lock_guard lock(mutex);
      if (state == State::done) return;
      state = State::done;
      taken.emplace(std::move(*handler));
      handler.reset();
      guard = std::move(work);
    }
    // Posted even from the caller's own thread: the handler never runs
    // inside the code that completes it. From a worker, this is also the
    // only safe way to touch the caller's coroutine.
    auto ex = asio::get_associated_executor(*taken, guard);
    asio::post(ex, [h = std::move(*taken), r = std::move(result)]() mutable {
      std::move(h)(std::move(r));
    });
  }

  // The caller's cancellation: a queued scan ends now; a running one is
  // asked to stop and ends when libclamav returns.
  void cancelled() {
    bool was_queued = false;
    {
      std::lock_guard lock(mutex);
      if (state == State::done) return;
      was_queued = state == State::queued;
      cancel.store(true, std::memory_order_relaxed);
    }
    if (was_queued) complete(ScanResult::error("cancelled"));
  }
};

// Lives in the caller's cancellation slot; a late signal finds the scan
// completed (or gone) and does nothing.
struct CancelScan {
  std::weak_ptr<Pending> pending;
  void operator()(asio::cancellation_type type) const {
    if (type == asio::cancellation_type::none) return;
    if (auto locked = pending.lock()) locked->cancelled();
  }
};

}  // namespace

struct ScanPool::Impl {
  Impl(std::shared_ptr<const Engine> e, ScanPoolOptions opts)
      : engine(std::move(e)), options(opts) {
    if (options.workers == 0) options.workers = 1;
    if (options.small_message_size == 0) options.small_workers = 0;
    workers.reserve(options.workers + options.small_workers);
    try {
      for (std::size_t i = 0; i < options.workers; ++i)
        workers.emplace_back([this] { work(false); });
      for (std::size_t i = 0; i < options.small_workers; ++i)
        workers.emplace_back([this] { work(true); });
    } catch (...) {
      shutdown();  // threads already started must be joined before unwinding
      throw;
    }
  }

  static asio::awaitable<ScanResult> run(std::shared_ptr<Impl> self, Job job, std::uint64_t size) {
    // Named before the co_await: g++ 12 may destroy temporaries inside a
    // co_await expression twice.
    auto submitted = asio::async_initiate<decltype(asio::use_awaitable), void(ScanResult)>(
        [self, size](Handler handler, Job j) {
          self->submit(std::move(j), size, std::move(handler));
        },
        asio::use_awaitable, std::move(job));
    ScanResult result = co_await std::move(submitted);
    co_return result;
  }

  void submit(Job job, std::uint64_t size, Handler handler) {
    auto pending = std::make_shared<Pending>();
    pending->job = std::move(job);
    pending->size = size;
    asio::any_io_executor ex = asio::get_associated_executor(handler);
    pending->work = asio::prefer(ex, asio::execution::outstanding_work.tracked);
    auto slot = asio::get_associated_cancellation_slot(handler);
    pending->handler.emplace(std::move(handler));
    // Installed before the scan is visible to a worker: once queued, the
    // handler may be resumed on another thread at any moment.
    if (slot.is_connected()) slot.template emplace<CancelScan>(pending);

    bool shut_down = false, busy = false;
    {
      std::lock_guard lock(mutex);
      shut_down = stopping;
      busy = !shut_down && queue.size() >= options.queue_limit;
      if (!shut_down && !busy) queue.push_back(pending);
    }
    if (busy) refused_busy.fetch_add(1, std::memory_order_relaxed);
    if (shut_down || busy) {
      pending->complete(ScanResult::error(shut_down ? "shut down" : "busy"));
      return;
    }
    // All: the one woken might be a small-lane worker that may not take it.
    wake.notify_all();
  }

  bool small(const Pending& p) const { return p.size <= options.small_message_size; }

  // The oldest scan this worker may take, or the queue's end.
  std::deque<std::shared_ptr<Pending>>::iterator next_for(bool small_lane) {
    if (!small_lane) return queue.begin();
    return std::find_if(queue.begin(), queue.end(),
                        [this](const std::shared_ptr<Pending>& p) { return small(*p); });
  }

  void work(bool small_lane) {
    for (;;) {
      std::shared_ptr<Pending> pending;
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [&] { return stopping || next_for(small_lane) != queue.end(); });
        if (stopping) return;  // shutdown() completes what is left queued
        auto next = next_for(small_lane);
        pending = std::move(*next);
        queue.erase(next);
      }
      if (!pending->start()) continue;  // cancelled while queued
      // Taken now and held to the end of this scan, whatever set_engine
      // does meanwhile.
      std::shared_ptr<const Engine> current = current_engine();
      ScanResult result;
      try {
        result = pending->job(*current, &pending->cancel);
      } catch (const std::exception& e) {
        result = ScanResult::error(e.what());
      }
      std::uint64_t size = pending->size;
      pending->complete(std::move(result));
      pending.reset();
      // Here, after the answer is on its way, not on the caller's thread:
      // trimming a heap of a few hundred MB takes milliseconds.
      if (size > options.trim_after_size) ::malloc_trim(0);
    }
  }

  std::shared_ptr<const Engine> current_engine() {
    std::lock_guard lock(engine_mutex);
    return engine;
  }

  void shutdown() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    for (std::thread& t : workers) t.join();
    workers.clear();
    std::deque<std::shared_ptr<Pending>> left;
    {
      std::lock_guard lock(mutex);
      left.swap(queue);
    }
    for (auto& pending : left) pending->complete(ScanResult::error("shut down"));
  }

  mutable std::mutex engine_mutex;
  std::shared_ptr<const Engine> engine;
  ScanPoolOptions options;
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::shared_ptr<Pending>> queue;
  bool stopping = false;
  std::atomic<std::uint64_t> refused_busy{0};
  std::vector<std::thread> workers;
};

ScanPool::ScanPool(std::shared_ptr<const Engine> engine, ScanPoolOptions options)
    : impl_(std::make_shared<Impl>(std::move(engine), options)) {}

ScanPool::~ScanPool() {
  impl_->shutdown();
}

std::shared_ptr<const Engine> ScanPool::engine() const {
  return impl_->current_engine();
}

void ScanPool::set_engine(std::shared_ptr<const Engine> engine) {
  std::shared_ptr<const Engine> old;
  {
    std::lock_guard lock(impl_->engine_mutex);
    old = std::exchange(impl_->engine, std::move(engine));
  }
  // Released outside the lock: freed here when no scan holds it any more,
  // else by the worker whose scan ends last.
}

asio::awaitable<ScanResult> ScanPool::scan_memory(std::string_view data) {
  // Not a coroutine itself: the job is made now from the arguments.
  return Impl::run(
      impl_,
      [data](const Engine& e, const std::atomic<bool>* cancel) {
        return e.scan_memory(data.data(), data.size(), cancel);
      },
      data.size());
}

asio::awaitable<ScanResult> ScanPool::scan_fd(int fd, std::uint64_t size) {
  return Impl::run(
      impl_,
      [fd](const Engine& e, const std::atomic<bool>* cancel) { return e.scan_fd(fd, cancel); },
      size);
}

std::uint64_t ScanPool::refused_busy() const {
  return impl_->refused_busy.load(std::memory_order_relaxed);
}

}  // namespace mailsan::clamav
