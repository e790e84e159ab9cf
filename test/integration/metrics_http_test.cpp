// The metrics endpoint on a real loopback socket, with a plain blocking
// client: what a Prometheus scrape, a wrong path, garbage, an oversized head
// and a silent client each get.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <thread>

#include "common/metrics/http_endpoint.hpp"

using namespace mailsan::metrics;
using namespace std::chrono_literals;

namespace {

// An io_context running on its own thread with an endpoint on 127.0.0.1:0.
// Members are in construction order: the endpoint needs the registry and the
// io_context, the thread needs everything.
struct Server {
  explicit Server(HttpLimits limits = {}) {
    registry.counter("mailsan_test_total", "A test counter.", {{"kind", "x"}}).inc(7);
    endpoint.set_limits(limits);
    endpoint.start("127.0.0.1:0");
    thread = std::thread([this] { io.run(); });
  }
  ~Server() {
    endpoint.stop();
    work.reset();
    thread.join();
  }
  unsigned short port() const { return endpoint.port(); }

  Registry registry;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  HttpEndpoint endpoint{io.get_executor(), registry};
  std::thread thread;
};

class Client {
 public:
  explicit Client(unsigned short port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~Client() { ::close(fd_); }

  // False once the peer has closed or reset the connection.
  bool send(std::string_view data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  void shutdown_send() { ::shutdown(fd_, SHUT_WR); }

  // Everything until the server closes; sets *closed when it did within the timeout.
  std::string read_all(std::chrono::milliseconds timeout = 3s, bool* closed = nullptr) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        if (closed) *closed = true;
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
};

std::string body_of(const std::string& response) {
  auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? std::string() : response.substr(end + 4);
}

}  // namespace

TEST_CASE("GET /metrics over TCP returns the registry's text", "[metrics]") {
  Server server;
  REQUIRE(server.port() != 0);
  Client client(server.port());
  REQUIRE(client.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  bool closed = false;
  std::string response = client.read_all(3s, &closed);
  CHECK(closed);  // one response per connection
  CHECK_THAT(response, Catch::StartsWith("HTTP/1.1 200 OK\r\n"));
  CHECK_THAT(response, Catch::Contains("Content-Type: text/plain; version=0.0.4"));
  CHECK(body_of(response) == server.registry.render());
  CHECK_THAT(body_of(response), Catch::Contains("mailsan_test_total{kind=\"x\"} 7\n"));
}

TEST_CASE("A request sent one byte at a time is still answered", "[metrics]") {
  Server server;
  Client client(server.port());
  for (char c : std::string("GET /metrics HTTP/1.0\r\n\r\n")) {
    REQUIRE(client.send(std::string_view(&c, 1)));
    std::this_thread::sleep_for(2ms);
  }
  CHECK_THAT(client.read_all(), Catch::StartsWith("HTTP/1.1 200 OK\r\n"));
}

TEST_CASE("Another path gets 404", "[metrics]") {
  Server server;
  Client client(server.port());
  REQUIRE(client.send("GET /favicon.ico HTTP/1.1\r\n\r\n"));
  bool closed = false;
  CHECK_THAT(client.read_all(3s, &closed), Catch::StartsWith("HTTP/1.1 404 Not Found\r\n"));
  CHECK(closed);
}

TEST_CASE("Garbage gets 400 and the connection closes", "[metrics]") {
  Server server;
  SECTION("a bad request line, answered without waiting for a blank line") {
    Client client(server.port());
    REQUIRE(client.send("HELLO THERE\r\n"));
    bool closed = false;
    CHECK_THAT(client.read_all(3s, &closed), Catch::StartsWith("HTTP/1.1 400 Bad Request\r\n"));
    CHECK(closed);
  }
  SECTION("binary bytes") {
    Client client(server.port());
    REQUIRE(client.send(std::string_view("\x16\x03\x01\x00\xa5\x01\x00", 7)));
    CHECK_THAT(client.read_all(), Catch::StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  }
  SECTION("a partial head and then end of input") {
    Client client(server.port());
    REQUIRE(client.send("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
    client.shutdown_send();
    CHECK_THAT(client.read_all(), Catch::StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  }
}

TEST_CASE("An oversized head closes the connection without a reply", "[metrics]") {
  Server server;
  Client client(server.port());
  std::string head = "GET /metrics HTTP/1.1\r\nX-Fill: " + std::string(16384, 'a');
  client.send(head);  // may fail part-way once the server has closed
  bool closed = false;
  auto started = std::chrono::steady_clock::now();
  std::string response = client.read_all(3s, &closed);
  CHECK(closed);
  CHECK(response.empty());
  CHECK(std::chrono::steady_clock::now() - started < 2s);  // not by the read timeout
}

TEST_CASE("A client that sends nothing is closed after the read timeout", "[metrics]") {
  HttpLimits limits;
  limits.timeout = 200ms;
  Server server(limits);
  Client client(server.port());
  REQUIRE(client.send("GET /metrics HTTP/1.1\r\n"));  // and never the blank line
  bool closed = false;
  auto started = std::chrono::steady_clock::now();
  CHECK(client.read_all(3s, &closed).empty());
  CHECK(closed);
  CHECK(std::chrono::steady_clock::now() - started < 2s);
}

TEST_CASE("Several scrapes in a row each get their answer", "[metrics]") {
  Server server;
  for (int i = 0; i < 20; ++i) {
    Client client(server.port());
    REQUIRE(client.send("GET /metrics HTTP/1.1\r\n\r\n"));
    REQUIRE_THAT(client.read_all(), Catch::StartsWith("HTTP/1.1 200 OK\r\n"));
  }
}

TEST_CASE("Bad listen addresses are refused with the reason", "[metrics]") {
  boost::asio::io_context io;
  Registry registry;
  HttpEndpoint endpoint(io.get_executor(), registry);
  CHECK_THROWS_WITH(endpoint.start("127.0.0.1"), Catch::Contains("missing ':PORT'"));
  CHECK_THROWS_WITH(endpoint.start("unix:/tmp/x.sock"), Catch::Contains("must be HOST:PORT"));
  CHECK_THROWS_AS(endpoint.start("192.0.2.1:9740"), std::runtime_error);  // not our address
  HttpEndpoint disabled(io.get_executor(), registry);
  CHECK_NOTHROW(disabled.start(""));
  CHECK(disabled.port() == 0);
}

TEST_CASE("The inet: prefix and a busy port are handled", "[metrics]") {
  Server first;
  boost::asio::io_context io;
  Registry registry;
  HttpEndpoint endpoint(io.get_executor(), registry);
  CHECK_THROWS_WITH(endpoint.start("inet:127.0.0.1:" + std::to_string(first.port())),
                    Catch::Contains("cannot listen on"));
  HttpEndpoint other(io.get_executor(), registry);
  other.start("inet:127.0.0.1:0");
  CHECK(other.port() != 0);
}
