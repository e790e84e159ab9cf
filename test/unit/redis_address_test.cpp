// The Redis address parser (SPEC §4) shared by the daemons and mailsanctl,
// the `redis` row's check, and the readers of what the sentinels answer.
#include <catch2/catch.hpp>
#include <stdexcept>

#include "common/config/common_rows.hpp"
#include "common/redis/client.hpp"
#include "common/redis/address.hpp"
#include "common/redis/sentinel_replies.hpp"

using mailsan::redis::Address;
using mailsan::redis::parse_address;
using mailsan::redis::Reply;

namespace {

std::string error_of(std::string_view text) {
  std::string error;
  CHECK_FALSE(parse_address(text, &error));
  return error;
}

Reply string_reply(std::string text) {
  Reply r;
  r.type = Reply::Type::string;
  r.str = std::move(text);
  return r;
}

Reply array_reply(std::vector<Reply> elements) {
  Reply r;
  r.type = Reply::Type::array;
  r.elements = std::move(elements);
  return r;
}

}  // namespace

TEST_CASE("tcp and unix addresses parse as before, with an optional /DB", "[redis][address]") {
  auto tcp = parse_address("tcp:127.0.0.1:6379");
  REQUIRE(tcp);
  CHECK(tcp->kind == Address::Kind::single);
  CHECK(tcp->server.host == "127.0.0.1");
  CHECK(tcp->server.port == 6379);
  CHECK_FALSE(tcp->database);

  auto with_db = parse_address("tcp:redis.example.com:6380/3");
  REQUIRE(with_db);
  CHECK(with_db->server.host == "redis.example.com");
  CHECK(with_db->database == 3);

  auto v6 = parse_address("tcp:[::1]:6379/15");
  REQUIRE(v6);
  CHECK(v6->server.host == "::1");
  CHECK(v6->database == 15);

  auto unix_socket = parse_address("unix:/run/redis/redis-server.sock");
  REQUIRE(unix_socket);
  CHECK(unix_socket->server.kind == mailsan::net::EndpointAddress::Kind::unix_socket);
  CHECK(unix_socket->server.path == "/run/redis/redis-server.sock");
  CHECK_FALSE(unix_socket->database);

  auto unix_db = parse_address("unix:/run/redis/redis-server.sock/2");
  REQUIRE(unix_db);
  CHECK(unix_db->server.path == "/run/redis/redis-server.sock");
  CHECK(unix_db->database == 2);

  CHECK(parse_address("127.0.0.1:6379"));
  CHECK(parse_address("inet:127.0.0.1:6379"));
}

TEST_CASE("a sentinel address names the master and lists the sentinels", "[redis][address]") {
  auto a = parse_address("sentinel:mymaster@10.0.0.1:26379, 10.0.0.2:26379,[::1]:26380/4");
  REQUIRE(a);
  CHECK(a->kind == Address::Kind::sentinel);
  CHECK(a->master_name == "mymaster");
  REQUIRE(a->nodes.size() == 3);
  CHECK(a->nodes[0].host == "10.0.0.1");
  CHECK(a->nodes[1].host == "10.0.0.2");
  CHECK(a->nodes[2].host == "::1");
  CHECK(a->nodes[2].port == 26380);
  CHECK(a->database == 4);

  auto one = parse_address("sentinel:mail-state.1@sentinel.example.com:26379");
  REQUIRE(one);
  CHECK(one->nodes.size() == 1);
  CHECK_FALSE(one->database);
}

TEST_CASE("a cluster address lists its seed nodes", "[redis][address]") {
  auto a = parse_address("cluster:127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002");
  REQUIRE(a);
  CHECK(a->kind == Address::Kind::cluster);
  CHECK(a->nodes.size() == 3);
  CHECK(a->nodes[2].port == 7002);
  CHECK(mailsan::redis::unsupported_reason(*a).find("not supported yet") != std::string::npos);
}

TEST_CASE("malformed addresses are refused with a reason", "[redis][address]") {
  CHECK(error_of("tcp:127.0.0.1") == "missing ':PORT'");
  CHECK(error_of("tcp:127.0.0.1:6379/16") == "database must be a number from 0 to 15");
  CHECK(error_of("tcp:127.0.0.1:99999").find("port must be") != std::string::npos);
  CHECK(error_of("unix:relative.sock").find("absolute") != std::string::npos);
  CHECK(error_of("sentinel:127.0.0.1:26379").find("missing '@'") != std::string::npos);
  CHECK(error_of("sentinel:@127.0.0.1:26379").find("master name") != std::string::npos);
  CHECK(error_of("sentinel:my master@127.0.0.1:26379").find("master name") != std::string::npos);
  CHECK(error_of("sentinel:m@").find("empty entry") != std::string::npos);
  CHECK(error_of("sentinel:m@127.0.0.1:26379,").find("empty entry") != std::string::npos);
  CHECK(error_of("sentinel:m@127.0.0.1").find("missing ':PORT'") != std::string::npos);
  CHECK(error_of("sentinel:m@unix:/run/s.sock").find("unexpected '/'") != std::string::npos);
  CHECK(error_of("sentinel:m@unix:sock").find("HOST:PORT expected") != std::string::npos);
  CHECK(error_of("sentinel:m@127.0.0.1:26379/x").find("unexpected '/'") != std::string::npos);
  CHECK(error_of("sentinel:m@127.0.0.1:26379/99").find("database") != std::string::npos);
  CHECK(error_of("cluster:127.0.0.1:7000/1").find("drop the /DB") != std::string::npos);
  CHECK(error_of("cluster:").find("empty entry") != std::string::npos);
  std::string many = "sentinel:m@";
  for (int i = 0; i < 17; ++i)
    many += (i ? "," : "") + std::string("127.0.0.1:") + std::to_string(26379 + i);
  CHECK(error_of(many).find("more than 16") != std::string::npos);
}

TEST_CASE("the redis row names itself when its value is bad or a cluster",
          "[redis][address][config]") {
  mailsan::config::CommonConfig c;
  mailsan::config::OptionTable table("redis-test");
  mailsan::config::add_common_rows(table, c);
  auto load = [&](const std::string& value) {
    try {
      mailsan::config::apply_overrides(table, {{"redis", value}});
    } catch (const mailsan::config::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(load("sentinel:mymaster@127.0.0.1:26379,127.0.0.1:26380/1").empty());
  CHECK(c.redis == "sentinel:mymaster@127.0.0.1:26379,127.0.0.1:26380/1");
  const std::string bad = load("sentinel:mymaster");
  CHECK(bad.find("option 'redis'") != std::string::npos);
  CHECK(bad.find("missing '@'") != std::string::npos);
  const std::string cluster = load("cluster:127.0.0.1:7000");
  CHECK(cluster.find("option 'redis'") != std::string::npos);
  CHECK(cluster.find("not supported yet") != std::string::npos);
}

TEST_CASE("redis_options takes the sentinel password file and the address's database",
          "[redis][address][config]") {
  mailsan::config::CommonConfig c;
  c.redis = "sentinel:m@127.0.0.1:26379/2";
  c.redis_password_file = "/etc/mailsan/redis.pass";
  c.redis_sentinel_password_file = "/etc/mailsan/sentinel.pass";
  auto o = mailsan::config::redis_options(c);
  CHECK(o.password_file == "/etc/mailsan/redis.pass");
  CHECK(o.sentinel_password_file == "/etc/mailsan/sentinel.pass");
}

TEST_CASE("the sentinel's master address is read from its reply", "[redis][sentinel]") {
  std::string error;
  auto master = mailsan::redis::master_from_reply(
      array_reply({string_reply("127.0.0.1"), string_reply("6380")}), &error);
  REQUIRE(master);
  CHECK(master->host == "127.0.0.1");
  CHECK(master->port == 6380);

  auto v6 = mailsan::redis::master_from_reply(
      array_reply({string_reply("::1"), string_reply("6380")}), &error);
  REQUIRE(v6);
  CHECK(v6->host == "::1");

  CHECK_FALSE(mailsan::redis::master_from_reply(Reply{}, &error));
  CHECK(error.find("does not know") != std::string::npos);
  CHECK_FALSE(mailsan::redis::master_from_reply(
      array_reply({string_reply("127.0.0.1"), string_reply("port")}), &error));
  CHECK_FALSE(mailsan::redis::master_from_reply(
      array_reply({string_reply("unix:/x"), string_reply("1")}), &error));
  CHECK_FALSE(mailsan::redis::master_from_reply(array_reply({string_reply("127.0.0.1")}), &error));
}

TEST_CASE("a +switch-master message is acted on for our master name only", "[redis][sentinel]") {
  auto moved =
      mailsan::redis::switched_master("mymaster 127.0.0.1 6379 127.0.0.1 6380", "mymaster");
  REQUIRE(moved);
  CHECK(moved->port == 6380);
  CHECK_FALSE(mailsan::redis::switched_master("other 127.0.0.1 6379 127.0.0.1 6380", "mymaster"));
  CHECK_FALSE(mailsan::redis::switched_master("mymaster 127.0.0.1 6379 127.0.0.1", "mymaster"));
  CHECK_FALSE(
      mailsan::redis::switched_master("mymaster 127.0.0.1 6379 127.0.0.1 6380 x", "mymaster"));
  CHECK_FALSE(mailsan::redis::switched_master("mymaster a b c 99999", "mymaster"));
}

TEST_CASE("ROLE confirms a master and names anything else", "[redis][sentinel]") {
  std::string role;
  CHECK(mailsan::redis::role_is_master(array_reply({string_reply("master"), Reply{}}), &role));
  CHECK_FALSE(mailsan::redis::role_is_master(array_reply({string_reply("slave")}), &role));
  CHECK(role == "slave");
  Reply error;
  error.type = Reply::Type::error;
  error.str = "ERR unknown command";
  CHECK_FALSE(mailsan::redis::role_is_master(error, &role));
  CHECK(role == "ERR unknown command");
}
