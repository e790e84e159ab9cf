// One Postfix policy-delegation request: the attributes as Postfix sent them.
// The request owns its bytes; values are views into them, valid as long as the
// request lives.
#pragma once

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

  std::string_view request() const { return get("request"); }
  std::string_view protocol_state() const { return get("protocol_state"); }
  std::string_view client_address() const { return get("client_address"); }
  std::string_view client_name() const { return get("client_name"); }
  std::string_view helo_name() const { return get("helo_name"); }
  std::string_view sender() const { return get("sender"); }
  std::string_view recipient() const { return get("recipient"); }
  std::string_view instance() const { return get("instance"); }
  std::string_view queue_id() const { return get("queue_id"); }
  std::string_view sasl_username() const { return get("sasl_username"); }
  std::string_view ccert_fingerprint() const { return get("ccert_fingerprint"); }

  // Building (used by the parser and by tests).
  void clear();
  void append_bytes(std::string_view bytes) { text_.append(bytes); }
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
};

}  // namespace mailsan::policyd
