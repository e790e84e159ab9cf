// A bounded pool of threads that scan with the current ClamAV engine
// (SPEC §3: libclamav scans never run on the I/O thread). A scan waits in a
// bounded queue (past it: at once an error "busy"), runs on a worker and its
// result is posted to the awaiting coroutine's executor.
//
// The engine is swapped whole (set_engine, from any thread): a scan takes
// the engine current when it starts and keeps it until it ends, so a new
// database never pauses scanning and never changes a scan halfway.
//
// Small messages have a lane of their own: small_workers threads (beyond
// workers) take only scans of at most small_message_size bytes, so a small
// message never waits behind large ones that hold every other worker. The
// other workers take any scan, oldest first.
//
// After a scan of more than trim_after_size bytes the worker gives the
// memory libclamav freed back to the system (malloc_trim): a MIME parser's
// many small allocations otherwise stay in the heap as resident memory.
//
// Cancellation (the awaiting coroutine's cancellation slot): a scan still
// queued completes at once with an error "cancelled" and is never started;
// a running scan is told to stop at the next file it unpacks and completes
// when libclamav has returned. The awaitable therefore never completes while
// a worker still reads the caller's bytes or file: they need to stay valid
// only until it completes.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/clamav/engine.hpp"

namespace mailsan::clamav {

struct ScanPoolOptions {
  std::size_t workers = 2;
  std::size_t queue_limit = 64;  // scans waiting for a worker
  std::size_t small_workers = 1;
  std::uint64_t small_message_size = 262144;  // 0: no small lane
  std::uint64_t trim_after_size = 1048576;
};

class ScanPool {
 public:
  // Starts the workers; engine must not be null.
  ScanPool(std::shared_ptr<const Engine> engine, ScanPoolOptions options);
  // Scans still queued complete with an error "shut down"; running ones
  // finish first.
  ~ScanPool();
  ScanPool(const ScanPool&) = delete;
  ScanPool& operator=(const ScanPool&) = delete;

  std::shared_ptr<const Engine> engine() const;
  void set_engine(std::shared_ptr<const Engine> engine);

  // The whole message in memory; data must stay valid until completion.
  boost::asio::awaitable<ScanResult> scan_memory(std::string_view data);
  // A regular file (the spool file) of size bytes, read from its start
  // with pread; fd must stay open until completion.
  boost::asio::awaitable<ScanResult> scan_fd(int fd, std::uint64_t size);

  // Scans refused because the queue was full, so far.
  std::uint64_t refused_busy() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mailsan::clamav
