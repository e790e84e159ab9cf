#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <sstream>

#include "common/log/rate_limited.hpp"
#include "test/support/process.hpp"

namespace mlog = mailsan::log;
using namespace std::chrono_literals;

namespace {

// Points fd 2 at a file while it lives.
class CapturedStderr {
 public:
  CapturedStderr() : path_(dir_.path() / "stderr") {
    mlog::init("mailsan-test", mlog::Sink::standard_error, mlog::Level::info);
    saved_ = ::dup(STDERR_FILENO);
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~CapturedStderr() { restore(); }
  std::vector<std::string> lines() {
    restore();
    std::istringstream in(mailsan::test::read_file(path_));
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line.substr(line.find("] ") + 2));
    return out;
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
    mlog::init("mailsan", mlog::Sink::standard_error, mlog::Level::info);
  }
  mailsan::test::TempDir dir_{"mailsan-log-test"};
  std::filesystem::path path_;
  int saved_ = -1;
};

struct FakeClock {
  mlog::RateLimited::Clock::time_point now{};
  auto function() {
    return [this] { return now; };
  }
};

}  // namespace

TEST_CASE("A recurring condition is logged at once, then once per interval with its count",
          "[log][rate_limited]") {
  FakeClock clock;
  CapturedStderr captured;
  mlog::RateLimited limited(mlog::Level::error, "accept_failed", 10s, clock.function());
  auto fail = [&](const char* error) {
    limited.record([&](mlog::Line& line) { line.kv("error", error); });
  };
  fail("Too many open files");
  for (int i = 0; i < 100000; ++i) {
    clock.now += 10us;  // a spin: a second in all
    fail("Too many open files");
  }
  CHECK(limited.suppressed() == 100000);
  clock.now += 9s;  // 10 s after the first line
  fail("Too many open files");
  CHECK(limited.suppressed() == 0);
  clock.now += 1s;
  fail("Cannot allocate memory");
  auto lines = captured.lines();
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "error accept_failed error=\"Too many open files\" count=1");
  CHECK(lines[1] == "error accept_failed error=\"Too many open files\" count=100001");
}

TEST_CASE("A condition that recurs less often than the interval is logged every time",
          "[log][rate_limited]") {
  FakeClock clock;
  CapturedStderr captured;
  mlog::RateLimited limited(mlog::Level::warning, "greylist_unavailable", 10s, clock.function());
  for (int i = 0; i < 3; ++i) {
    limited.record();
    clock.now += 11s;
  }
  auto lines = captured.lines();
  REQUIRE(lines.size() == 3);
  for (const auto& line : lines) CHECK(line == "warning greylist_unavailable count=1");
}

TEST_CASE("Below the minimum level nothing is written but occurrences still count",
          "[log][rate_limited]") {
  FakeClock clock;
  CapturedStderr captured;
  mlog::RateLimited limited(mlog::Level::debug, "noisy", 10s, clock.function());
  limited.record();
  limited.record();
  CHECK(limited.suppressed() == 1);
  CHECK(captured.lines().empty());
}
