#include "common/clamav/engine_reloader.hpp"

#include <exception>

namespace mailsan::clamav {

EngineReloader::EngineReloader(ScanPool& pool, std::unique_ptr<DatabaseWatch> watch,
                               std::string dir, EngineLimits limits,
                               std::chrono::milliseconds interval,
                               std::function<void(const ReloadOutcome&)> report)
    : pool_(pool),
      watch_(std::move(watch)),
      dir_(std::move(dir)),
      limits_(limits),
      interval_(interval),
      report_(std::move(report)) {
  thread_ = std::thread([this] { run(); });
}

EngineReloader::~EngineReloader() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void EngineReloader::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
    if (stopping_) return;
    lock.unlock();
    if (watch_->changed()) {
      // The reference is taken before the build, so that a change made
      // while it runs is seen at the next check.
      watch_->reset();
      ReloadOutcome outcome;
      try {
        auto engine = std::make_shared<const Engine>(dir_, limits_);
        outcome.signatures = engine->signatures();
        outcome.build_time = engine->build_time();
        pool_.set_engine(std::move(engine));
        outcome.ok = true;
      } catch (const std::exception& e) {
        outcome.error = e.what();
      }
      if (report_) report_(outcome);
    }
    lock.lock();
  }
}

}  // namespace mailsan::clamav
