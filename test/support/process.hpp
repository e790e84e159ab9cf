// Child processes for integration tests: the real peers (redis-server, Postfix,
// mailsan daemons) are started here and stopped by the pid we started, never by
// name.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace mailsan::test {

// A private directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "mailsan-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A started child with stdout and stderr appended to log_file. The destructor
// stops it (SIGTERM, then SIGKILL after a grace period).
class Process {
 public:
  Process() = default;
  // max_open_files: the child's RLIMIT_NOFILE, soft and hard (0: inherited),
  // for tests of running out of descriptors.
  Process(std::vector<std::string> argv, std::filesystem::path log_file,
          unsigned long max_open_files = 0);
  ~Process();
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;

  pid_t pid() const { return pid_; }
  bool running();
  // Sends sig and waits up to grace for the exit; SIGKILL after that.
  // Returns the exit status as from waitpid, or -1 when nothing was running.
  int stop(int sig = 15, std::chrono::milliseconds grace = std::chrono::seconds(10));
  void signal(int sig) const;
  // Waits for the child to exit by itself; returns its status or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  std::string log() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::filesystem::path log_file_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs argv to completion (no shell) and returns its exit code and output.
CommandResult run(const std::vector<std::string>& argv, const std::string& input = {});

// A TCP port on 127.0.0.1 that was free a moment ago.
unsigned short free_tcp_port();
// True once something accepts on host:port, false after timeout.
bool wait_for_tcp(const std::string& host, unsigned short port,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
std::string read_file(const std::filesystem::path& p);
void write_file(const std::filesystem::path& p, const std::string& content);

}  // namespace mailsan::test
