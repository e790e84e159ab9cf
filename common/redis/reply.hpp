// An owned copy of a Redis reply (hiredis frees its own after the callback),
// made from hiredis' reply by to_reply for the async client and mailsanctl's
// blocking one alike.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct redisReply;

namespace mailsan::redis {

struct Reply {
  enum class Type { nil, integer, string, status, error, array };
  Type type = Type::nil;
  std::int64_t integer = 0;
  std::string str;  // string, status and error text
  std::vector<Reply> elements;

  bool is_error() const { return type == Type::error; }
  bool is_nil() const { return type == Type::nil; }
};

// A deep copy of hiredis' reply (nested arrays included).
Reply to_reply(const redisReply& reply);

}  // namespace mailsan::redis
