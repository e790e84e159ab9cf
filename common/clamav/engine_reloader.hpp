// Reloads the ClamAV signatures when their directory changes (SPEC §3):
// every interval its own thread checks the directory (cl_statchkdir) and,
// when it changed, builds and compiles a whole new Engine there — not on a
// scan worker, not on the I/O thread — then swaps it into the scan pool.
// Scans go on with the old engine meanwhile, and with the new one from the
// next scan on; no scan waits for a reload and none fails for it. A reload
// that fails keeps the old engine, and is tried again when the directory
// changes again.
//
// While a new engine is built, two engines are in memory: with the full
// official databases that is about twice the resident size of one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/clamav/engine.hpp"
#include "common/clamav/scan_pool.hpp"

namespace mailsan::clamav {

struct ReloadOutcome {
  bool ok = false;
  std::string error;        // why not ok
  unsigned signatures = 0;  // of the new engine
  std::chrono::milliseconds build_time{0};
};

class EngineReloader {
 public:
  // watch: taken on the directory before the pool's engine was loaded, so
  // that no change after that load goes unnoticed. report is called on
  // the reloader's thread after each reload attempt.
  EngineReloader(ScanPool& pool, std::unique_ptr<DatabaseWatch> watch, std::string dir,
                 EngineLimits limits, std::chrono::milliseconds interval,
                 std::function<void(const ReloadOutcome&)> report);
  // Stops the thread; waits for a build in progress to end.
  ~EngineReloader();
  EngineReloader(const EngineReloader&) = delete;
  EngineReloader& operator=(const EngineReloader&) = delete;

 private:
  void run();

  ScanPool& pool_;
  std::unique_ptr<DatabaseWatch> watch_;
  std::string dir_;
  EngineLimits limits_;
  std::chrono::milliseconds interval_;
  std::function<void(const ReloadOutcome&)> report_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mailsan::clamav
