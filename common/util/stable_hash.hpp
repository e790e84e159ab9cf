// A stable 64-bit hash (FNV-1a) for building Redis keys from untrusted text.
// It must give the same value on every MX and every build, which std::hash
// does not promise. Not cryptographic: keys are also scoped by client network,
// so a collision could only merge two triplets of the same network.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mailsan::util {

class StableHash {
 public:
  StableHash& add(std::string_view bytes) {
    for (unsigned char c : bytes) {
      state_ ^= c;
      state_ *= 0x100000001b3ULL;
    }
    return *this;
  }
  // A separator that cannot be confused with the bytes of the parts.
  StableHash& separator() {
    state_ ^= 0x1ffU;
    state_ *= 0x100000001b3ULL;
    return *this;
  }
  std::uint64_t value() const { return state_; }
  std::string hex() const {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i)
      out[static_cast<std::size_t>(15 - i)] = kDigits[(state_ >> (i * 4)) & 0xf];
    return out;
  }

 private:
  std::uint64_t state_ = 0xcbf29ce484222325ULL;
};

}  // namespace mailsan::util
