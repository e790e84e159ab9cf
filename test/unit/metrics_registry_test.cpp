#include <catch2/catch.hpp>
#include <thread>

#include "common/metrics/registry.hpp"

using namespace mailsan::metrics;

TEST_CASE("A small registry renders as exact Prometheus text", "[metrics]") {
  Registry r;
  r.counter("mailsan_verdicts_total", "Decisions by verdict.", {{"verdict", "defer"}}).inc(3);
  r.counter("mailsan_verdicts_total", "ignored: the first help wins", {{"verdict", "dunno"}}).inc();
  r.gauge("mailsan_connections", "Open policy connections.").set(-2);
  auto& h = r.histogram("mailsan_check_seconds", "Check latency.", {{"check", "greylist"}},
                        {0.001, 0.01, 0.1});
  h.observe(0.0005);
  h.observe(0.001);  // on a bound: counted in that bucket ("le")
  h.observe(0.05);
  h.observe(3);
  CHECK(r.render() ==
        "# HELP mailsan_check_seconds Check latency.\n"
        "# TYPE mailsan_check_seconds histogram\n"
        "mailsan_check_seconds_bucket{check=\"greylist\",le=\"0.001\"} 2\n"
        "mailsan_check_seconds_bucket{check=\"greylist\",le=\"0.01\"} 2\n"
        "mailsan_check_seconds_bucket{check=\"greylist\",le=\"0.1\"} 3\n"
        "mailsan_check_seconds_bucket{check=\"greylist\",le=\"+Inf\"} 4\n"
        "mailsan_check_seconds_sum{check=\"greylist\"} 3.0515\n"
        "mailsan_check_seconds_count{check=\"greylist\"} 4\n"
        "# HELP mailsan_connections Open policy connections.\n"
        "# TYPE mailsan_connections gauge\n"
        "mailsan_connections -2\n"
        "# HELP mailsan_verdicts_total Decisions by verdict.\n"
        "# TYPE mailsan_verdicts_total counter\n"
        "mailsan_verdicts_total{verdict=\"defer\"} 3\n"
        "mailsan_verdicts_total{verdict=\"dunno\"} 1\n");
}

TEST_CASE("An empty registry renders nothing", "[metrics]") {
  CHECK(Registry().render().empty());
}

TEST_CASE("Histogram buckets are cumulative in the output", "[metrics]") {
  Registry r;
  auto& h = r.histogram("t_seconds", "t", {}, {1, 2, 3});
  for (double v : {0.5, 1.5, 1.5, 2.5, 2.5, 2.5, 9.0}) h.observe(v);
  CHECK(h.bucket_count(0) == 1);
  CHECK(h.bucket_count(1) == 2);
  CHECK(h.bucket_count(2) == 3);
  CHECK(h.bucket_count(3) == 1);
  CHECK(h.count() == 7);
  CHECK(h.sum() == Approx(20.0));
  std::string text = r.render();
  CHECK_THAT(text, Catch::Contains("t_seconds_bucket{le=\"1\"} 1\n"
                                   "t_seconds_bucket{le=\"2\"} 3\n"
                                   "t_seconds_bucket{le=\"3\"} 6\n"
                                   "t_seconds_bucket{le=\"+Inf\"} 7\n"
                                   "t_seconds_sum 20\n"
                                   "t_seconds_count 7\n"));
}

TEST_CASE("Latency buckets run from 100 microseconds to 10 seconds", "[metrics]") {
  auto b = latency_buckets();
  REQUIRE(!b.empty());
  CHECK(b.front() == 0.0001);
  CHECK(b.back() == 10);
  CHECK(std::is_sorted(b.begin(), b.end()));
  Registry r;
  r.histogram("l_seconds", "l").observe(0.00003);
  CHECK_THAT(r.render(), Catch::Contains("l_seconds_bucket{le=\"0.0001\"} 1\n"
                                         "l_seconds_bucket{le=\"0.00025\"} 1\n"));
  CHECK_THAT(r.render(), Catch::Contains("l_seconds_sum 3e-05\n"));
}

TEST_CASE("Label values and help text are escaped", "[metrics]") {
  Registry r;
  r.counter("c_total", "line one\nback\\slash \"quoted\"", {{"v", "a\"b\\c\nd"}}).inc();
  CHECK(r.render() ==
        "# HELP c_total line one\\nback\\\\slash \"quoted\"\n"
        "# TYPE c_total counter\n"
        "c_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST_CASE("The same name and labels give the same metric in any label order", "[metrics]") {
  Registry r;
  Counter& a = r.counter("x_total", "x", {{"b", "2"}, {"a", "1"}});
  Counter& b = r.counter("x_total", "x", {{"a", "1"}, {"b", "2"}});
  CHECK(&a == &b);
  a.inc(2);
  CHECK(r.render() == "# HELP x_total x\n# TYPE x_total counter\nx_total{a=\"1\",b=\"2\"} 2\n");
  CHECK(&r.gauge("g", "g") == &r.gauge("g", "g"));
}

TEST_CASE("Invalid names and type clashes are refused when registering", "[metrics]") {
  Registry r;
  r.counter("used_total", "u");
  CHECK_THROWS_AS(r.gauge("used_total", "u"), std::logic_error);
  CHECK_THROWS_AS(r.counter("1bad", "b"), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("bad-name", "b"), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("ok_total", "b", {{"bad-label", "x"}}), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("ok_total", "b", {{"__reserved", "x"}}), std::invalid_argument);
  CHECK_THROWS_AS(r.counter("ok_total", "b", {{"a", "x"}, {"a", "y"}}), std::invalid_argument);
  CHECK_THROWS_AS(r.histogram("h", "h", {{"le", "1"}}), std::invalid_argument);
  CHECK_THROWS_AS(Histogram({2, 1}), std::invalid_argument);
  CHECK_THROWS_AS(Histogram({1, 1}), std::invalid_argument);
  CHECK_NOTHROW(r.counter("ns:ok_total", "b", {{"_a1", "x"}}));
}

TEST_CASE("Odd observations neither crash nor corrupt the sum", "[metrics]") {
  Histogram h({1});
  h.observe(std::numeric_limits<double>::quiet_NaN());
  h.observe(-1);
  h.observe(std::numeric_limits<double>::infinity());
  CHECK(h.count() == 2);
  CHECK(h.bucket_count(0) == 1);
  CHECK(h.bucket_count(1) == 1);
  CHECK(h.sum() >= 0);
}

TEST_CASE("Worker threads may count while the registry renders", "[metrics]") {
  Registry r;
  Counter& c = r.counter("busy_total", "b");
  Histogram& h = r.histogram("busy_seconds", "b");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.001);
      }
    });
  for (int i = 0; i < 20; ++i) CHECK_FALSE(r.render().empty());
  for (auto& th : threads) th.join();
  CHECK(c.value() == 40000);
  CHECK_THAT(r.render(), Catch::Contains("busy_seconds_count 40000\n"));
}
