#include <catch2/catch.hpp>

#include "common/metrics/http_request.hpp"

using namespace mailsan::metrics;
using State = RequestHeadReader::State;

namespace {

const std::string kScrape =
    "GET /metrics HTTP/1.1\r\n"
    "Host: 127.0.0.1:9740\r\n"
    "User-Agent: Prometheus/2.45.0\r\n"
    "Accept: text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"
    "\r\n";

State feed_bytewise(RequestHeadReader& reader, std::string_view input) {
  for (char c : input) reader.feed(std::string_view(&c, 1));
  return reader.state();
}

std::string respond(std::string_view head) {
  return build_response(head, [] { return std::string("m 1\n"); });
}

}  // namespace

TEST_CASE("A request head is complete at the blank line, in one piece or byte by byte",
          "[metrics]") {
  RequestHeadReader whole;
  CHECK(whole.feed(kScrape + "trailing body") == State::complete);
  CHECK(whole.head() == kScrape);

  RequestHeadReader bytewise;
  CHECK(feed_bytewise(bytewise, kScrape) == State::complete);
  CHECK(bytewise.head() == kScrape);

  RequestHeadReader bare_lf;
  CHECK(feed_bytewise(bare_lf, "GET /metrics HTTP/1.0\nHost: x\n\n") == State::complete);

  RequestHeadReader partial;
  CHECK(partial.feed("GET /metrics HTTP/1.1\r\nHost: x\r\n") == State::need_more);
  CHECK(partial.feed("\r") == State::need_more);
  CHECK(partial.feed("\n") == State::complete);
}

TEST_CASE("A head over the limit is refused without waiting for its end", "[metrics]") {
  std::string big = "GET /metrics HTTP/1.1\r\nX-Fill: " + std::string(9000, 'a');
  RequestHeadReader whole(8192);
  CHECK(whole.feed(big) == State::too_large);
  RequestHeadReader bytewise(8192);
  CHECK(feed_bytewise(bytewise, big) == State::too_large);
  CHECK(bytewise.head().size() == 8192);
  // Exactly at the limit, with its blank line, still fits.
  std::string exact = "GET /metrics HTTP/1.1\r\nX: ";
  exact += std::string(8192 - exact.size() - 4, 'b') + "\r\n\r\n";
  RequestHeadReader fits(8192);
  CHECK(fits.feed(exact) == State::complete);
}

TEST_CASE("A malformed request line is refused as soon as it ends", "[metrics]") {
  for (std::string line : {"HELLO\r\n", "GET\r\n", "GET /metrics\r\n", "GET metrics HTTP/1.1\r\n",
                           "GET /metrics HTTP/2.0\r\n", "GET  /metrics HTTP/1.1\r\n",
                           "G(T /metrics HTTP/1.1\r\n", "\r\n"}) {
    INFO(line);
    RequestHeadReader reader;
    CHECK(feed_bytewise(reader, line) == State::malformed);
  }
}

TEST_CASE("Control bytes in a head are refused", "[metrics]") {
  RequestHeadReader nul;
  CHECK(nul.feed(std::string_view("GET /metrics\0 HTTP/1.1\r\n", 24)) == State::malformed);
  RequestHeadReader binary;
  CHECK(binary.feed("\x16\x03\x01\x02\x00") == State::malformed);  // a TLS hello
}

TEST_CASE("GET /metrics gets 200 with the exposition content type and the text", "[metrics]") {
  CHECK(respond(kScrape) ==
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
        "Content-Length: 4\r\n"
        "Connection: close\r\n"
        "\r\n"
        "m 1\n");
  CHECK_THAT(respond("GET /metrics?name[]=x HTTP/1.0\r\n\r\n"),
             Catch::StartsWith("HTTP/1.1 200 OK\r\n"));
}

TEST_CASE("HEAD /metrics gets the headers without the body", "[metrics]") {
  std::string r = respond("HEAD /metrics HTTP/1.1\r\n\r\n");
  CHECK_THAT(r, Catch::StartsWith("HTTP/1.1 200 OK\r\n"));
  CHECK_THAT(r, Catch::Contains("Content-Length: 4\r\n"));
  CHECK_THAT(r, Catch::EndsWith("\r\n\r\n"));
}

TEST_CASE("Other paths get 404, other methods 405, bad headers 400", "[metrics]") {
  bool rendered = false;
  auto render = [&] {
    rendered = true;
    return std::string();
  };
  CHECK_THAT(build_response("GET / HTTP/1.1\r\n\r\n", render),
             Catch::StartsWith("HTTP/1.1 404 Not Found\r\n"));
  CHECK_THAT(build_response("GET /metricsx HTTP/1.1\r\n\r\n", render),
             Catch::StartsWith("HTTP/1.1 404 Not Found\r\n"));
  std::string post = build_response("POST /metrics HTTP/1.1\r\n\r\n", render);
  CHECK_THAT(post, Catch::StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  CHECK_THAT(post, Catch::Contains("Allow: GET, HEAD\r\n"));
  CHECK_THAT(build_response("GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", render),
             Catch::StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  CHECK_THAT(build_response("GET /metrics HTTP/1.1\r\n folded: x\r\n\r\n", render),
             Catch::StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  CHECK_THAT(build_response("nonsense\r\n\r\n", render),
             Catch::StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  CHECK_FALSE(rendered);
}
