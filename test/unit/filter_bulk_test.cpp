#include <catch2/catch.hpp>

#include "contentfilter/bulk/bulk_digest.hpp"
#include "contentfilter/bulk/bulk_scanner.hpp"

using namespace mailsan::filter;

namespace {

std::string spam(const std::string& name, const std::string& amount, const std::string& track) {
  return "From: deals@bulk.test\r\nSubject: Your offer " + amount + "\r\n\r\nDear " + name +
         ",\r\n\r\nYou have won  " + amount +
         " dollars!\r\nClaim it at https://win.bulk.test/claim?id=" + track + "&u=" + track +
         " today.\r\n";
}

}  // namespace

TEST_CASE("fuzzy text ignores case, white space, digit runs and URL query strings",
          "[filter][bulk]") {
  CHECK(fuzzy_text("Hello   World\r\n\tAgain", false) == "hello world again");
  CHECK(fuzzy_text("Call 555-1234 now, ref 42", false) == "call #-# now, ref #");
  CHECK(fuzzy_text("see https://x.test/a?b=1&c=2 and http://y.test/p#frag.", false) ==
        "see https://x.test/a and http://y.test/p");
  CHECK(fuzzy_text("<a href=\"https://x.test/t?u=9\">x</a>", false) ==
        "<a href=\"https://x.test/t\">x</a>");
  CHECK(fuzzy_text("Dear John, dear Mary", true) == "* *, dear *");
  CHECK(fuzzy_text("", false).empty());
}

TEST_CASE("quoted-printable and base64 decode as far as they are well formed", "[filter][bulk]") {
  CHECK(decode_quoted_printable("caf=C3=A9 soft=\r\nbreak =ZZ") == "caf\xc3\xa9 softbreak =ZZ");
  CHECK(decode_base64("SGVsbG8g\r\nV29ybGQ=") == "Hello World");
  CHECK(decode_base64("!!!") == "");
}

TEST_CASE("the text parts of a MIME message are found and decoded, attachments are not",
          "[filter][bulk]") {
  std::string m =
      "Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\npreamble\r\n--XX\r\n"
      "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
      "Hi =3D there\r\n--XX\r\nContent-Type: application/octet-stream\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--XX\r\n"
      "Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+aGk8L2I+\r\n"
      "--XX--\r\n";
  auto parts = text_parts(m);
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].find("Hi = there") != std::string::npos);
  CHECK(parts[1] == "<b>hi</b>");
  CHECK(text_parts("Subject: x\r\n\r\nplain body\r\n") ==
        std::vector<std::string>{"plain body\r\n"});
}

TEST_CASE("copies of one spam varied per recipient share their fuzzy checksums", "[filter][bulk]") {
  auto a = bulk_digests(spam("John", "1000", "abc123"));
  auto b = bulk_digests(spam("Mary", "2500", "zz9"));
  REQUIRE(a.size() == 4);
  REQUIRE(b.size() == 4);
  CHECK(a[0].rfind("body:", 0) == 0);
  CHECK(a[0] != b[0]);  // the bodies differ
  CHECK(a[1] != b[1]);  // "fuzzy" keeps the names
  CHECK(a[2] == b[2]);  // "names" does not
  CHECK(a[2].rfind("names:", 0) == 0);
  auto other = bulk_digests("Subject: lunch\r\n\r\nSee you at noon, Bob\r\n");
  for (const auto& d : other) CHECK(std::find(a.begin(), a.end(), d) == a.end());
  CHECK(bulk_digests("Subject: empty\r\n\r\n \r\n").empty());
}

TEST_CASE("bulk keys are built from the digest under one hash tag", "[filter][bulk]") {
  auto k = bulk_keys("mailsan:", "fuzzy:0123");
  CHECK(k.recipients == "mailsan:bulk:{fuzzy:0123}");
  CHECK(k.marked == "mailsan:bulk-marked:{fuzzy:0123}");
}

TEST_CASE("a MIME bomb costs the text digest a bounded number of parts", "[filter][bulk]") {
  // 100,000 one-line image parts, then one text part: only the first
  // kBulkMaxParts entities are examined, so the text part is never reached.
  std::string m = "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n";
  for (int i = 0; i < 100000; ++i) m += "--b\r\nContent-Type: image/gif\r\n\r\nx\r\n";
  m += "--b\r\nContent-Type: text/plain\r\n\r\nfar down\r\n--b--\r\n";
  CHECK(text_parts(m).empty());
  // The whole-body digests still cover all of it.
  CHECK(bulk_digests(m).size() == 3);

  // Text parts: at most kBulkMaxParts of them, nesting included.
  std::string texts = "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n";
  for (int i = 0; i < 1000; ++i) texts += "--b\r\nContent-Type: text/plain\r\n\r\nt\r\n";
  texts += "--b--\r\n";
  auto parts = text_parts(texts);
  CHECK(parts.size() == kBulkMaxParts - 1);  // the multipart itself is examined too
}

TEST_CASE("text parts are decoded only up to a bounded number of bytes", "[filter][bulk]") {
  std::string big(kBulkMaxTextBytes, 'a');
  std::string m =
      "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
      "Content-Type: text/plain\r\n\r\n" +
      big + "\r\n--b\r\nContent-Type: text/plain\r\n\r\nsecond\r\n--b--\r\n";
  auto parts = text_parts(m);
  REQUIRE(parts.size() == 1);
  CHECK(parts[0].size() == kBulkMaxTextBytes);
}
