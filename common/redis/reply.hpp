// An owned copy of a Redis reply (hiredis frees its own after the callback).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

}  // namespace mailsan::redis
