// MessageSpool: memory up to its limit, then an unlinked temp file holding
// the same bytes; reading back by offset and in chunks; reset and reuse;
// errors as values when the file cannot be made.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "contentfilter/spool/message_spool.hpp"
#include "test/support/process.hpp"

using mailsan::filter::MessageSpool;
using mailsan::test::TempDir;
namespace fs = std::filesystem;

namespace {

// A message whose every byte depends on its position, so a chunk in the
// wrong place or a byte lost shows.
std::string sample_message(std::size_t size) {
  std::string out;
  out.reserve(size);
  std::size_t line = 0;
  while (out.size() < size) {
    std::string l = "Line " + std::to_string(line++) + ": the quick brown fox\r\n";
    out.append(l, 0, std::min(l.size(), size - out.size()));
  }
  return out;
}

std::string read_all_by_offsets(const MessageSpool& spool, std::size_t step) {
  std::string out;
  std::vector<char> buf(step);
  std::uint64_t offset = 0;
  for (;;) {
    std::size_t n = spool.read(offset, buf.data(), buf.size());
    if (n == 0) break;
    out.append(buf.data(), n);
    offset += n;
  }
  return out;
}

std::string read_all_in_chunks(const MessageSpool& spool, std::size_t chunk) {
  std::string out;
  bool sizes_ok = true;
  auto ec = spool.for_each_chunk(chunk, [&](std::string_view piece) {
    sizes_ok = sizes_ok && !piece.empty() && piece.size() <= chunk;
    out.append(piece);
    return true;
  });
  CHECK_FALSE(ec);
  CHECK(sizes_ok);
  return out;
}

// Everything the spool hands back, every way it hands it back, equals `want`.
void check_content(const MessageSpool& spool, const std::string& want) {
  REQUIRE(spool.size() == want.size());
  if (spool.in_memory()) CHECK(spool.memory() == want);
  CHECK(read_all_by_offsets(spool, 1) == want);
  CHECK(read_all_by_offsets(spool, 7) == want);
  CHECK(read_all_by_offsets(spool, 4096) == want);
  CHECK(read_all_in_chunks(spool, 1) == want);
  CHECK(read_all_in_chunks(spool, 13) == want);
  CHECK(read_all_in_chunks(spool, 65536) == want);
}

std::size_t entries(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST_CASE("a message under the memory limit stays in memory", "[spool]") {
  TempDir dir{"mailsan-spool-test"};
  MessageSpool spool(1024, dir.path());
  const std::string message = "Subject: hi\r\n\r\nbody\r\n";
  REQUIRE_FALSE(spool.append(message.substr(0, 5)));
  REQUIRE_FALSE(spool.append(message.substr(5)));
  CHECK(spool.in_memory());
  CHECK(spool.fd() < 0);
  check_content(spool, message);
  CHECK(entries(dir.path()) == 0);
}

TEST_CASE("exactly the memory limit stays in memory, one byte more moves it to a file", "[spool]") {
  TempDir dir{"mailsan-spool-test"};
  MessageSpool spool(100, dir.path());
  const std::string message = sample_message(101);
  REQUIRE_FALSE(spool.append(std::string_view(message).substr(0, 100)));
  CHECK(spool.in_memory());
  REQUIRE_FALSE(spool.append(std::string_view(message).substr(100)));
  CHECK_FALSE(spool.in_memory());
  CHECK(spool.fd() >= 0);
  CHECK(spool.memory().empty());
  check_content(spool, message);
}

TEST_CASE("crossing the limit moves the message to a file with identical content", "[spool]") {
  TempDir dir{"mailsan-spool-test"};
  const std::string message = sample_message(300000);
  MessageSpool spool(64 * 1024, dir.path());
  // Appends of uneven sizes, as reads from a socket would come.
  std::size_t at = 0, step = 1;
  while (at < message.size()) {
    std::size_t n = std::min(step, message.size() - at);
    REQUIRE_FALSE(spool.append(std::string_view(message).substr(at, n)));
    at += n;
    step = step * 3 + 1;
  }
  REQUIRE_FALSE(spool.in_memory());
  check_content(spool, message);

  // The file behind fd() is the message, byte for byte, for scanners that
  // take a descriptor.
  std::string from_fd(message.size(), '\0');
  REQUIRE(::pread(spool.fd(), from_fd.data(), from_fd.size(), 0) ==
          static_cast<ssize_t>(message.size()));
  CHECK(from_fd == message);

  SECTION("reads at arbitrary offsets") {
    char buf[10];
    CHECK(spool.read(0, buf, 10) == 10);
    CHECK(std::string(buf, 10) == message.substr(0, 10));
    CHECK(spool.read(123456, buf, 10) == 10);
    CHECK(std::string(buf, 10) == message.substr(123456, 10));
    CHECK(spool.read(message.size() - 3, buf, 10) == 3);
    CHECK(std::string(buf, 3) == message.substr(message.size() - 3));
    CHECK(spool.read(message.size(), buf, 10) == 0);
    CHECK(spool.read(message.size() + 100, buf, 10) == 0);
  }

  SECTION("for_each_chunk stops when the visitor says so") {
    std::size_t calls = 0;
    std::string seen;
    auto ec = spool.for_each_chunk(1000, [&](std::string_view piece) {
      seen.append(piece);
      return ++calls < 3;
    });
    CHECK_FALSE(ec);
    CHECK(calls == 3);
    CHECK(seen == message.substr(0, 3000));
  }
}

TEST_CASE("the temp file has no name: the directory stays empty and the link says deleted",
          "[spool]") {
  TempDir dir{"mailsan-spool-test"};
  MessageSpool spool(10, dir.path());
  REQUIRE_FALSE(spool.append(sample_message(5000)));
  REQUIRE_FALSE(spool.in_memory());
  CHECK(entries(dir.path()) == 0);
  const fs::path link = "/proc/self/fd/" + std::to_string(spool.fd());
  const std::string target = fs::read_symlink(link).string();
  INFO(target);
  CHECK(target.find("(deleted)") != std::string::npos);
  // Only the owner may read it, should anyone reach it through /proc.
  struct stat st {};
  REQUIRE(::fstat(spool.fd(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(st.st_nlink == 0);
}

TEST_CASE("a memory limit of 0 goes straight to the file", "[spool]") {
  TempDir dir{"mailsan-spool-test"};
  MessageSpool spool(0, dir.path());
  CHECK(spool.in_memory());  // nothing held yet
  REQUIRE_FALSE(spool.append(""));
  CHECK(spool.in_memory());
  REQUIRE_FALSE(spool.append("x"));
  CHECK_FALSE(spool.in_memory());
  REQUIRE_FALSE(spool.append("yz\r\n"));
  check_content(spool, "xyz\r\n");
  CHECK(entries(dir.path()) == 0);
}

TEST_CASE("reset closes the file and frees memory, and the spool is reused", "[spool]") {
  TempDir dir{"mailsan-spool-test"};
  MessageSpool spool(100, dir.path());
  REQUIRE_FALSE(spool.append(sample_message(1000)));
  const int fd = spool.fd();
  REQUIRE(fd >= 0);
  spool.reset();
  CHECK(spool.size() == 0);
  CHECK(spool.in_memory());
  CHECK(spool.memory().empty());
  // The descriptor was closed (and not reopened by anything in between).
  CHECK(::fcntl(fd, F_GETFD) == -1);
  char buf[4];
  CHECK(spool.read(0, buf, sizeof buf) == 0);
  CHECK(read_all_in_chunks(spool, 10).empty());

  // A small message after a large one is held in memory again.
  REQUIRE_FALSE(spool.append("small\r\n"));
  CHECK(spool.in_memory());
  check_content(spool, "small\r\n");

  // And a large one goes to a fresh file.
  spool.reset();
  const std::string second = sample_message(777);
  REQUIRE_FALSE(spool.append(second));
  CHECK_FALSE(spool.in_memory());
  check_content(spool, second);
}

TEST_CASE("a temp_dir that does not exist fails the append that needs the file", "[spool]") {
  TempDir dir{"mailsan-spool-test"};
  MessageSpool spool(10, dir.path() / "missing");
  // Memory is enough for this one: no file is needed yet.
  REQUIRE_FALSE(spool.append("12345"));
  CHECK(spool.in_memory());
  auto ec = spool.append("6789012345");
  REQUIRE(ec);
  CHECK(ec == std::errc::no_such_file_or_directory);
  CHECK(spool.in_memory());
  // What was held before the failure is still there, so the caller can log
  // its size when it tempfails.
  CHECK(spool.size() == 5);
  // The spool stays failed, even for bytes that would fit in memory, until
  // reset().
  CHECK(spool.append("x") == std::errc::no_such_file_or_directory);
  CHECK(spool.size() == 5);
  spool.reset();
  REQUIRE_FALSE(spool.append("fits"));
  CHECK(spool.size() == 4);

  SECTION("also with a memory limit of 0") {
    MessageSpool direct(0, dir.path() / "missing");
    CHECK(direct.append("x") == std::errc::no_such_file_or_directory);
  }
}

TEST_CASE("for_each_chunk refuses a chunk size of 0", "[spool]") {
  TempDir dir{"mailsan-spool-test"};
  MessageSpool spool(10, dir.path());
  REQUIRE_FALSE(spool.append("abc"));
  CHECK(spool.for_each_chunk(0, [](std::string_view) { return true; }) ==
        std::errc::invalid_argument);
}
