#include <hiredis/hiredis.h>

#include <catch2/catch.hpp>
#include <string>

#include "common/redis/reply.hpp"
#include "common/util/password_file.hpp"
#include "test/support/process.hpp"

using namespace mailsan;

namespace {

redisReply make(int type) {
  redisReply r{};
  r.type = type;
  return r;
}

}  // namespace

TEST_CASE("to_reply copies every kind of hiredis reply, nested arrays and binary strings",
          "[redis]") {
  std::string bulk("a\0b", 3);
  redisReply str = make(REDIS_REPLY_STRING);
  str.str = bulk.data();
  str.len = bulk.size();
  redisReply integer = make(REDIS_REPLY_INTEGER);
  integer.integer = -42;
  redisReply nil = make(REDIS_REPLY_NIL);
  std::string err_text = "NOSCRIPT No matching script";
  redisReply error = make(REDIS_REPLY_ERROR);
  error.str = err_text.data();
  error.len = err_text.size();
  redisReply* inner_elements[] = {&integer};
  redisReply inner = make(REDIS_REPLY_ARRAY);
  inner.elements = 1;
  inner.element = inner_elements;
  redisReply* outer_elements[] = {&str, &nil, &error, &inner};
  redisReply outer = make(REDIS_REPLY_ARRAY);
  outer.elements = 4;
  outer.element = outer_elements;

  redis::Reply r = redis::to_reply(outer);
  REQUIRE(r.type == redis::Reply::Type::array);
  REQUIRE(r.elements.size() == 4);
  CHECK(r.elements[0].type == redis::Reply::Type::string);
  CHECK(r.elements[0].str == bulk);
  CHECK(r.elements[1].is_nil());
  CHECK(r.elements[2].is_error());
  CHECK(r.elements[2].str == err_text);
  REQUIRE(r.elements[3].elements.size() == 1);
  CHECK(r.elements[3].elements[0].integer == -42);

  std::string ok = "OK";
  redisReply status = make(REDIS_REPLY_STATUS);
  status.str = ok.data();
  status.len = ok.size();
  CHECK(redis::to_reply(status).type == redis::Reply::Type::status);
  CHECK(redis::to_reply(status).str == "OK");
}

TEST_CASE("A password file gives its first line without the line ending", "[redis]") {
  test::TempDir dir("mailsan-password");
  std::string password, error;
  test::write_file(dir.path() / "crlf", "s3cret #1\r\nsecond line\n");
  CHECK(util::read_password_file((dir.path() / "crlf").string(), &password, &error));
  CHECK(password == "s3cret #1");
  test::write_file(dir.path() / "bare", "no newline");
  CHECK(util::read_password_file((dir.path() / "bare").string(), &password, &error));
  CHECK(password == "no newline");

  test::write_file(dir.path() / "empty", "\nsecond\n");
  CHECK_FALSE(util::read_password_file((dir.path() / "empty").string(), &password, &error));
  CHECK(error.find("empty first line") != std::string::npos);
  CHECK_FALSE(util::read_password_file((dir.path() / "missing").string(), &password, &error));
  CHECK(error == "cannot read password file " + (dir.path() / "missing").string());
}
