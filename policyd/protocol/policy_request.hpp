// One Postfix policy-delegation request: the attributes as Postfix sent them.
// The request owns its bytes; values are views into them, valid as long as the
// request lives.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailsan::policyd {

class PolicyRequest {
 public:
  // The value of the first attribute with this name, or "" when absent.
  std::string_view get(std::string_view name) const;
  bool has(std::string_view name) const;
  std::size_t attribute_count() const { return attributes_.size(); }

  // The attributes the checks read on every request are indexed when parsed.
  enum class Known : std::uint8_t {
    request,
    protocol_state,
    client_address,
    client_name,
    helo_name,
    sender,
    recipient,
    instance,
    queue_id,
    sasl_username,
    ccert_fingerprint,
    count
  };
  std::string_view get(Known attribute) const;

  std::string_view request() const { return get(Known::request); }
  std::string_view protocol_state() const { return get(Known::protocol_state); }
  std::string_view client_address() const { return get(Known::client_address); }
  std::string_view client_name() const { return get(Known::client_name); }
  std::string_view helo_name() const { return get(Known::helo_name); }
  std::string_view sender() const { return get(Known::sender); }
  std::string_view recipient() const { return get(Known::recipient); }
  std::string_view instance() const { return get(Known::instance); }
  std::string_view queue_id() const { return get(Known::queue_id); }
  std::string_view sasl_username() const { return get(Known::sasl_username); }
  std::string_view ccert_fingerprint() const { return get(Known::ccert_fingerprint); }

  // Building (used by the parser and by tests).
  void clear();
  void append_bytes(std::string_view bytes);
  std::size_t size_bytes() const { return text_.size(); }
  std::string_view text() const { return text_; }
  // Marks text_[name_begin, value_end) as one "name=value" attribute.
  void add_attribute(std::uint32_t line_begin, std::uint32_t equals, std::uint32_t line_end);
  static PolicyRequest from_pairs(const std::vector<std::pair<std::string, std::string>>& pairs);

 private:
  struct Attribute {
    std::uint32_t name_begin, name_end, value_begin, value_end;
  };
  std::string text_;
  std::vector<Attribute> attributes_;
  std::array<std::int16_t, static_cast<std::size_t>(Known::count)> known_ = filled(-1);

  static constexpr std::array<std::int16_t, static_cast<std::size_t>(Known::count)> filled(
      std::int16_t v) {
    std::array<std::int16_t, static_cast<std::size_t>(Known::count)> a{};
    a.fill(v);
    return a;
  }
};

}  // namespace mailsan::policyd
