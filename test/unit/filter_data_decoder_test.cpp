#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "contentfilter/smtp/data_decoder.hpp"

using mailsan::filter::smtp::DataDecoder;
using Status = DataDecoder::Status;

namespace {

// Everything a DataDecoder tells about one input.
struct Decoded {
  bool done = false;
  std::size_t consumed = 0;
  std::string unstuffed;
  std::string wire;
  std::string error;
  bool too_large = false;
  std::uint64_t bytes = 0;
  std::uint64_t lines = 0;
  std::uint64_t longest_line = 0;

  bool operator==(const Decoded&) const = default;
};

Decoded decode_in_pieces(const std::string& input, const std::vector<std::size_t>& cuts,
                         std::uint64_t limit) {
  DataDecoder decoder(limit);
  Decoded out;
  std::size_t begin = 0;
  for (std::size_t i = 0; i <= cuts.size() && !out.done; ++i) {
    std::size_t end = i < cuts.size() ? cuts[i] : input.size();
    std::string_view chunk = std::string_view(input).substr(begin, end - begin);
    begin = end;
    std::size_t used = 0;
    Status s = decoder.feed(chunk, used, out.unstuffed, out.wire);
    REQUIRE(used <= chunk.size());
    out.consumed += used;
    if (s == Status::done) {
      out.done = true;
      CHECK(decoder.done());
    } else {
      CHECK(used == chunk.size());
    }
  }
  out.error = std::string(decoder.error());
  out.too_large = decoder.too_large();
  out.bytes = decoder.bytes();
  out.lines = decoder.lines();
  out.longest_line = decoder.longest_line();
  return out;
}

// Whole, one byte at a time, cut in two at every position and in random
// pieces: all must decode the same.
Decoded decode(const std::string& input, std::uint64_t limit = 0) {
  Decoded whole = decode_in_pieces(input, {}, limit);
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < input.size(); ++i) every.push_back(i);
  CHECK(decode_in_pieces(input, every, limit) == whole);
  for (std::size_t i = 0; i <= input.size(); ++i)
    CHECK(decode_in_pieces(input, {i}, limit) == whole);
  std::mt19937 random(4711);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::size_t> cuts;
    for (std::size_t at = 0; at < input.size();) {
      at += 1 + random() % 7;
      if (at < input.size()) cuts.push_back(at);
    }
    CHECK(decode_in_pieces(input, cuts, limit) == whole);
  }
  return whole;
}

}  // namespace

TEST_CASE("a message ends at CRLF.CRLF and comes out without the final dot line",
          "[filter][smtp][data]") {
  const std::string message = "Subject: hello\r\n\r\nbody\r\n";
  Decoded d = decode(message + ".\r\n");
  CHECK(d.done);
  CHECK(d.consumed == message.size() + 3);
  CHECK(d.unstuffed == message);
  CHECK(d.wire == message);
  CHECK(d.error.empty());
  CHECK_FALSE(d.too_large);
  CHECK(d.bytes == message.size());
  CHECK(d.lines == 3);
  CHECK(d.longest_line == 16);
}

TEST_CASE("a message that is only the dot line ends at once, empty", "[filter][smtp][data]") {
  Decoded d = decode(".\r\nQUIT\r\n");
  CHECK(d.done);
  CHECK(d.consumed == 3);
  CHECK(d.unstuffed.empty());
  CHECK(d.wire.empty());
  CHECK(d.lines == 0);
  CHECK(d.error.empty());
}

TEST_CASE("dot-stuffing is undone for the scanners and kept for the wire", "[filter][smtp][data]") {
  Decoded d = decode("..leading dot\r\n.x\r\n...\r\n..\r\nend.\r\n .\r\n.\r\n");
  CHECK(d.done);
  CHECK(d.wire == "..leading dot\r\n.x\r\n...\r\n..\r\nend.\r\n .\r\n");
  CHECK(d.unstuffed == ".leading dot\r\nx\r\n..\r\n.\r\nend.\r\n .\r\n");
  CHECK(d.bytes == d.unstuffed.size());
  CHECK(d.lines == 6);
  CHECK(d.error.empty());
}

TEST_CASE("bytes after the end marker are left for the next command", "[filter][smtp][data]") {
  const std::string body = "a\r\n.\r\n";
  Decoded d = decode(body + "QUIT\r\n");
  CHECK(d.done);
  CHECK(d.consumed == body.size());
  CHECK(d.wire == "a\r\n");

  DataDecoder decoder;
  std::string unstuffed, wire;
  std::size_t used = 0;
  REQUIRE(decoder.feed(body + "QUIT\r\n", used, unstuffed, wire) == Status::done);
  CHECK(used == body.size());
  // Done stays done and takes nothing more.
  CHECK(decoder.feed("more\r\n.\r\n", used, unstuffed, wire) == Status::done);
  CHECK(used == 0);
  CHECK(wire == "a\r\n");
}

TEST_CASE("without the end marker the decoder wants more and holds back a possible dot",
          "[filter][smtp][data]") {
  Decoded d = decode("line\r\n.");
  CHECK_FALSE(d.done);
  CHECK(d.wire == "line\r\n");
  d = decode("line\r\n.\r");
  CHECK_FALSE(d.done);
  CHECK(d.wire == "line\r\n");
  d = decode("line\r");
  CHECK_FALSE(d.done);
  CHECK(d.error.empty());  // a CR at the end of the input may still meet its LF
}

TEST_CASE("line ends other than CRLF.CRLF never end the data (SMTP smuggling)",
          "[filter][smtp][data]") {
  struct Case {
    const char* fake_end;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {"\n.\n", "bare LF in message"},
           {"\r\n.\n", "bare LF in message"},
           {"\n.\r\n", "bare LF in message"},
           {"\r.\r", "bare CR in message"},
           {"\r.\r\n", "bare CR in message"},
           {"\r\n.\r", "bare CR in message"},
           {"\n\r\n.\n", "bare LF in message"},
       }) {
    INFO(c.fake_end);
    const std::string smuggled = "MAIL FROM:<forged@example.com>\r\nRCPT TO:<x@y>\r\nDATA\r\n";
    const std::string input =
        std::string("Subject: a\r\n\r\ntext") + c.fake_end + smuggled + "\r\n.\r\nQUIT\r\n";
    Decoded d = decode(input);
    CHECK(d.done);
    CHECK(d.consumed == input.size() - 6);  // ends at the real marker only
    CHECK(d.error == c.error);
    // What the client meant to slip past is message text, passed through.
    CHECK(d.wire.find(smuggled) != std::string::npos);
    CHECK(d.unstuffed.find(smuggled) != std::string::npos);
  }
}

TEST_CASE("a bare LF or CR as the first line does not end the data either",
          "[filter][smtp][data]") {
  Decoded d = decode(".\n.\r\n.\r\n");
  CHECK(d.done);
  CHECK(d.consumed == 8);
  CHECK(d.error == "bare LF in message");
  CHECK(d.wire == ".\n.\r\n");

  d = decode(".\rX\r\n.\r\n");
  CHECK(d.done);
  CHECK(d.error == "bare CR in message");
  CHECK(d.wire == ".\rX\r\n");
  CHECK(d.unstuffed == "\rX\r\n");
}

TEST_CASE("the first error is kept and scanning goes on to the end", "[filter][smtp][data]") {
  Decoded d = decode("a\rb\nc\r\n.\r\n");
  CHECK(d.done);
  CHECK(d.error == "bare CR in message");
  CHECK(d.wire == "a\rb\nc\r\n");
  CHECK(d.lines == 1);  // neither bare CR nor bare LF ends a line
  CHECK(d.longest_line == 7);
}

TEST_CASE("long lines are counted, not refused", "[filter][smtp][data]") {
  std::string long_line(1500, 'x');
  Decoded d = decode("short\r\n" + long_line + "\r\n..\r\n.\r\n");
  CHECK(d.done);
  CHECK(d.error.empty());
  CHECK(d.lines == 3);
  CHECK(d.longest_line == 1502);
  CHECK(d.bytes == 7 + 1502 + 3);
}

TEST_CASE("past the size limit the output stops but the data is read to its end",
          "[filter][smtp][data]") {
  Decoded d = decode("0123456789\r\nabc\r\n.\r\nQUIT\r\n", 10);
  CHECK(d.done);
  CHECK(d.consumed == 20);
  CHECK(d.too_large);
  CHECK(d.unstuffed == "0123456789");
  CHECK(d.wire == "0123456789");
  CHECK(d.bytes == 17);  // counted to the end, for the log
  CHECK(d.lines == 2);

  Decoded fits = decode("01234567\r\n.\r\n", 10);
  CHECK_FALSE(fits.too_large);
  CHECK(fits.unstuffed == "01234567\r\n");

  // Stuffing dots do not count: ".." is one byte of message.
  Decoded stuffed = decode("..ab\r\n.\r\n", 3);
  CHECK(stuffed.too_large);
  CHECK(stuffed.unstuffed == ".ab");
  CHECK(stuffed.wire == "..ab");
  CHECK(stuffed.bytes == 5);

  Decoded unlimited = decode(std::string(5000, 'y') + "\r\n.\r\n", 0);
  CHECK_FALSE(unlimited.too_large);
  CHECK(unlimited.bytes == 5002);
}

TEST_CASE("reset readies the decoder for the next message", "[filter][smtp][data]") {
  DataDecoder decoder(4);
  std::string unstuffed, wire;
  std::size_t used = 0;
  REQUIRE(decoder.feed("toolong\nx\r\n.\r\n", used, unstuffed, wire) == Status::done);
  CHECK(decoder.too_large());
  CHECK_FALSE(decoder.error().empty());
  decoder.reset();
  CHECK_FALSE(decoder.done());
  CHECK_FALSE(decoder.too_large());
  CHECK(decoder.error().empty());
  CHECK(decoder.bytes() == 0);
  unstuffed.clear();
  wire.clear();
  REQUIRE(decoder.feed("ok\r\n.\r\n", used, unstuffed, wire) == Status::done);
  CHECK(unstuffed == "ok\r\n");
  CHECK(decoder.lines() == 1);
}
