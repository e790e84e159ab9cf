// Incoming copies of the headers we write are removed before scanning
// (SPEC §3): fed whole and one byte at a time.
#include <catch2/catch.hpp>
#include <string>

#include "contentfilter/message/owned_headers.hpp"

using namespace mailsan::filter;

namespace {

std::string filtered(const std::string& message, std::size_t step, OwnedHeaderFilter* filter) {
  std::string out;
  for (std::size_t i = 0; i < message.size(); i += step)
    filter->feed(std::string_view(message).substr(i, step), out);
  filter->finish(out);
  return out;
}

// The same result whole, byte by byte and in pieces of 7.
std::string strip(const std::string& message, std::size_t* removed = nullptr) {
  OwnedHeaderFilter whole;
  std::string out = filtered(message, message.size() + 1, &whole);
  for (std::size_t step : {1u, 2u, 7u}) {
    OwnedHeaderFilter pieces;
    CHECK(filtered(message, step, &pieces) == out);
    CHECK(pieces.removed_count() == whole.removed_count());
  }
  if (removed) *removed = whole.removed_count();
  return out;
}

}  // namespace

TEST_CASE("forged verdict headers are removed, folded lines and all", "[owned_headers]") {
  std::size_t removed = 0;
  std::string out = strip(
      "Received: from a by b\r\n"
      "X-Spam-Status: No, score=-100\r\n"
      "\tfolded=yes\r\n"
      "x-spam-flag: NO\r\n"
      "X-Spam-Flag : NO\r\n"
      "X-Virus-Scanned: clean by someone\r\n"
      "X-Mailsan-Bulk: no\r\n"
      "Subject: hello\r\n"
      " world\r\n"
      "\r\n"
      "X-Spam-Flag: YES in the body stays\r\n",
      &removed);
  CHECK(out ==
        "Received: from a by b\r\n"
        "Subject: hello\r\n"
        " world\r\n"
        "\r\n"
        "X-Spam-Flag: YES in the body stays\r\n");
  CHECK(removed == 5);
}

TEST_CASE("Received-SPF and X-Greylist above the topmost Received are ours and stay",
          "[owned_headers]") {
  std::size_t removed = 0;
  std::string out = strip(
      "Received-SPF: pass (mx1: ours)\r\n"
      "X-Greylist: delayed 300 seconds by mailsan-policyd at mx1\r\n"
      "Received: from client (client [192.0.2.1]) by mx1\r\n"
      "Received-SPF: pass (forged)\r\n"
      "X-Greylist: forged\r\n"
      "Received: from elsewhere\r\n"
      "received-spf: pass (forged lower case)\r\n"
      "From: a@example.net\r\n"
      "\r\n"
      "body\r\n",
      &removed);
  CHECK(out ==
        "Received-SPF: pass (mx1: ours)\r\n"
        "X-Greylist: delayed 300 seconds by mailsan-policyd at mx1\r\n"
        "Received: from client (client [192.0.2.1]) by mx1\r\n"
        "Received: from elsewhere\r\n"
        "From: a@example.net\r\n"
        "\r\n"
        "body\r\n");
  CHECK(removed == 3);
}

TEST_CASE("a message without forged headers passes byte for byte", "[owned_headers]") {
  const std::string message =
      "Received: from a\r\nFrom: x@example.net\r\nSubject: X-Spam-Flag: YES\r\n\r\nbody\r\n.\r\n";
  CHECK(strip(message) == message);
}

TEST_CASE("lines that are no fields, long names and a missing body are passed on",
          "[owned_headers]") {
  const std::string long_name(300, 'A');
  const std::string message = "From: x\r\nno colon on this line\r\n" + long_name +
                              ": value\r\n: empty name\r\n\rX-Spam-Flag: YES\r\n";
  std::string out = strip(message + "X-Spam-Score: 9");
  // The line after a bare CR is no field; the last one, without its line
  // end and without a body, is still a header of ours.
  CHECK(out == message);
}

TEST_CASE("the header classes", "[owned_headers]") {
  CHECK(classify_header("X-Spam-Level") == OwnedHeader::remove);
  CHECK(classify_header("X-MAILSAN-ANYTHING") == OwnedHeader::remove);
  CHECK(classify_header("X-Virus-Scanned\t") == OwnedHeader::remove);
  CHECK(classify_header("X-Virus-Status") == OwnedHeader::keep);
  CHECK(classify_header("Received-SPF") == OwnedHeader::remove_below_received);
  CHECK(classify_header("x-greylist") == OwnedHeader::remove_below_received);
  CHECK(classify_header("Received") == OwnedHeader::keep);
  CHECK(classify_header("X-Spam") == OwnedHeader::keep);
}

TEST_CASE("an exempt name passes even though it looks like ours", "[owned_headers]") {
  OwnedHeaderFilter filter({"X-Mailsan-Test-Verdict"});
  std::string out;
  filter.feed(
      "X-Mailsan-Test-Verdict: spam 3\r\nx-mailsan-test-verdict : virus\r\nX-Mailsan-Bulk: "
      "no\r\n\r\nbody\r\n",
      out);
  filter.finish(out);
  CHECK(out == "X-Mailsan-Test-Verdict: spam 3\r\nx-mailsan-test-verdict : virus\r\n\r\nbody\r\n");
  CHECK(filter.removed_count() == 1);
}
