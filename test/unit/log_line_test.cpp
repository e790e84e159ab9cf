#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <sstream>
#include <thread>

#include "common/log/log.hpp"
#include "test/support/process.hpp"

namespace mlog = mailsan::log;

namespace {

// Points fd 2 at a file while it lives, so the test reads what Line wrote.
class CapturedStderr {
 public:
  CapturedStderr() : path_(dir_.path() / "stderr") {
    saved_ = ::dup(STDERR_FILENO);
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~CapturedStderr() { restore(); }
  std::string text() {
    restore();
    return mailsan::test::read_file(path_);
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  mailsan::test::TempDir dir_{"mailsan-log-test"};
  std::filesystem::path path_;
  int saved_ = -1;
};

// The part of a stderr line after "2024-05-01T12:00:00.123Z mailsan-test[PID] ",
// or "!" when the line does not start that way. (No <regex>: GCC 12 warns
// inside it in the sanitizer build.)
std::string after_prefix(std::string_view line) {
  constexpr std::string_view shape = "dddd-dd-ddTdd:dd:dd.dddZ ";
  if (line.size() < shape.size()) return "!";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    bool ok = shape[i] == 'd' ? (line[i] >= '0' && line[i] <= '9') : line[i] == shape[i];
    if (!ok) return "!";
  }
  line.remove_prefix(shape.size());
  constexpr std::string_view ident = "mailsan-test[";
  if (!line.starts_with(ident)) return "!";
  line.remove_prefix(ident.size());
  std::size_t digits = 0;
  while (digits < line.size() && line[digits] >= '0' && line[digits] <= '9') ++digits;
  if (digits == 0 || line.substr(digits, 2) != "] ") return "!";
  return std::string(line.substr(digits + 2));
}

struct LogSetup {
  explicit LogSetup(mlog::Level level) {
    mlog::init("mailsan-test", mlog::Sink::standard_error, level);
  }
  ~LogSetup() { mlog::init("mailsan", mlog::Sink::standard_error, mlog::Level::info); }
};

}  // namespace

TEST_CASE("Plain values are written as they are", "[log]") {
  CHECK(mlog::format_value("192.0.2.1") == "192.0.2.1");
  CHECK(mlog::format_value("<user@example.com>") == "<user@example.com>");
  CHECK(mlog::format_value("a\\b") == "a\\b");
  CHECK(mlog::format_value("gr\xc3\xbc\xc3\x9f") == "gr\xc3\xbc\xc3\x9f");
}

TEST_CASE("Values with space, quote, equals or control characters are quoted", "[log]") {
  CHECK(mlog::format_value("") == "\"\"");
  CHECK(mlog::format_value("two words") == "\"two words\"");
  CHECK(mlog::format_value("a=b") == "\"a=b\"");
  CHECK(mlog::format_value("say \"hi\"") == "\"say \\\"hi\\\"\"");
  CHECK(mlog::format_value("tab\there") == "\"tab\\there\"");
  // A backslash inside quotes is doubled so the quoting reads back unambiguously.
  CHECK(mlog::format_value("x \\ y") == "\"x \\\\ y\"");
}

TEST_CASE("Control characters are escaped so one event stays one line", "[log]") {
  CHECK(mlog::format_value("evil\nverdict=permit") == "\"evil\\nverdict=permit\"");
  CHECK(mlog::format_value("a\r\nb") == "\"a\\r\\nb\"");
  CHECK(mlog::format_value(std::string_view("\x00\x01\x1b[31m\x7f", 8)) ==
        "\"\\x00\\x01\\x1b[31m\\x7f\"");
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes += static_cast<char>(c);
  std::string out = mlog::format_value(all_bytes);
  CHECK(out.find('\n') == std::string::npos);
  CHECK(out.find('\r') == std::string::npos);
}

TEST_CASE("Well-formed UTF-8 is written as it is, unquoted", "[log]") {
  CHECK(mlog::format_value("b\xc3\xbc" "cher@xn--bcher-kva.example") ==
        "b\xc3\xbc" "cher@xn--bcher-kva.example");
  CHECK(mlog::format_value("\xe2\x82\xac\xf0\x9f\x93\xa7") == "\xe2\x82\xac\xf0\x9f\x93\xa7");
  // The last code points before and after the C1 block.
  CHECK(mlog::format_value("\xc2\xa0\xc2\xbf\xef\xbf\xbd\xf4\x8f\xbf\xbf") ==
        "\xc2\xa0\xc2\xbf\xef\xbf\xbd\xf4\x8f\xbf\xbf");
}

TEST_CASE("C1 controls are escaped, in UTF-8 and as raw bytes", "[log]") {
  // U+009B is CSI: "\xc2\x9b" + "31m" would colour an operator's terminal.
  CHECK(mlog::format_value("a\xc2\x9b"
                           "31mb") == "\"a\\xc2\\x9b31mb\"");
  CHECK(mlog::format_value("line\xc2\x85next") == "\"line\\xc2\\x85next\"");
  CHECK(mlog::format_value("\xc2\x80") == "\"\\xc2\\x80\"");
  CHECK(mlog::format_value("\xc2\x9f") == "\"\\xc2\\x9f\"");
  CHECK(mlog::format_value("x\x9by") == "\"x\\x9by\"");
  CHECK(mlog::format_value("\x85") == "\"\\x85\"");
}

TEST_CASE("Bytes that are not UTF-8 are escaped one by one", "[log]") {
  // Latin-1 as a client may send it.
  CHECK(mlog::format_value("gr\xfc\xdf") == "\"gr\\xfc\\xdf\"");
  // A lone continuation byte, a lead byte without its tail, one cut off at the end.
  CHECK(mlog::format_value("\xbf") == "\"\\xbf\"");
  CHECK(mlog::format_value("\xc3(") == "\"\\xc3(\"");
  CHECK(mlog::format_value("ok\xe2\x82") == "\"ok\\xe2\\x82\"");
  // Overlong forms: of '/', of NUL (Java's "modified UTF-8"), of U+0800.
  CHECK(mlog::format_value("\xc0\xaf") == "\"\\xc0\\xaf\"");
  CHECK(mlog::format_value("\xc0\x80") == "\"\\xc0\\x80\"");
  CHECK(mlog::format_value("\xe0\x80\x80") == "\"\\xe0\\x80\\x80\"");
  CHECK(mlog::format_value("\xf0\x80\x80\x80") == "\"\\xf0\\x80\\x80\\x80\"");
  // A UTF-16 surrogate, a code point above U+10FFFF, bytes never in UTF-8.
  CHECK(mlog::format_value("\xed\xa0\x80") == "\"\\xed\\xa0\\x80\"");
  CHECK(mlog::format_value("\xf4\x90\x80\x80") == "\"\\xf4\\x90\\x80\\x80\"");
  CHECK(mlog::format_value("\xf5\xfe\xff") == "\"\\xf5\\xfe\\xff\"");
  // A valid sequence right after an invalid byte survives.
  CHECK(mlog::format_value("\xff\xc3\xa9") == "\"\\xff\xc3\xa9\"");
}

TEST_CASE("Every escaped value is valid UTF-8 without control characters", "[log]") {
  std::string all_bytes;
  for (int c = 0; c < 256; ++c) all_bytes += static_cast<char>(c);
  std::string out = mlog::format_value(all_bytes);
  for (unsigned char u : out) {
    INFO(static_cast<int>(u));
    CHECK(u >= 0x20);
    CHECK(u < 0x7f);
  }
}

TEST_CASE("Keys never carry bytes above ASCII", "[log]") {
  LogSetup setup(mlog::Level::info);
  CapturedStderr captured;
  mlog::info("x").kv("k\xc2\x85y", "v");
  CHECK(captured.text().find(" x k__y=v\n") != std::string::npos);
}

TEST_CASE("Levels parse from their names only", "[log]") {
  mlog::Level level = mlog::Level::error;
  CHECK(mlog::parse_level("debug", &level));
  CHECK(level == mlog::Level::debug);
  CHECK(mlog::parse_level("warning", &level));
  CHECK(level == mlog::Level::warning);
  CHECK_FALSE(mlog::parse_level("warn", &level));
  CHECK_FALSE(mlog::parse_level("INFO", &level));
  CHECK_FALSE(mlog::parse_level("", &level));
  CHECK(level == mlog::Level::warning);
}

TEST_CASE("A line on stderr has timestamp, ident, level, event and key=value pairs", "[log]") {
  LogSetup setup(mlog::Level::info);
  CapturedStderr captured;
  mlog::info("decision")
      .kv("client", "192.0.2.1")
      .kv("helo", "evil\nhost")
      .kv("sender", std::string())
      .kv("count", 3)
      .kv("bytes", std::uint64_t{18446744073709551615u})
      .kv("delta", std::int64_t{-2})
      .kv("ms", 1.2346)
      .kv("whitelisted", true);
  std::string text = captured.text();
  CHECK(after_prefix(text) ==
        "info decision client=192.0.2.1 helo=\"evil\\nhost\" sender=\"\" count=3 "
        "bytes=18446744073709551615 delta=-2 ms=1.235 whitelisted=yes\n");
}

TEST_CASE("Lines below the minimum level are not written", "[log]") {
  LogSetup setup(mlog::Level::warning);
  CHECK(mlog::min_level() == mlog::Level::warning);
  CapturedStderr captured;
  mlog::debug("hidden").kv("k", "v");
  mlog::info("hidden");
  mlog::warning("shown").kv("k", "v");
  mlog::error("also_shown");
  std::string text = captured.text();
  CHECK(text.find("hidden") == std::string::npos);
  CHECK(text.find("] warning shown k=v\n") != std::string::npos);
  CHECK(text.find("] error also_shown\n") != std::string::npos);
}

TEST_CASE("Lines from many threads never interleave", "[log]") {
  LogSetup setup(mlog::Level::info);
  CapturedStderr captured;
  constexpr int kThreads = 8, kLines = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([t] {
      for (int i = 0; i < kLines; ++i)
        mlog::info("event").kv("thread", t).kv("i", i).kv("pad", std::string(200, 'x'));
    });
  for (auto& th : threads) th.join();
  std::istringstream lines(captured.text());
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    INFO(line);
    std::string rest = after_prefix(line);
    REQUIRE(rest.starts_with("info event thread="));
    REQUIRE(rest.ends_with(" pad=" + std::string(200, 'x')));
    REQUIRE(rest.size() < 240);
  }
  CHECK(count == kThreads * kLines);
}

TEST_CASE("Non-finite doubles are logged as words", "[log]") {
  LogSetup setup(mlog::Level::info);
  CapturedStderr captured;
  mlog::info("x").kv("a", std::numeric_limits<double>::quiet_NaN()).kv("b", -1.0 / 0.0);
  CHECK(captured.text().find(" x a=nan b=-inf\n") != std::string::npos);
}
