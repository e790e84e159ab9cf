#include "policyd/pipeline/check_request.hpp"

namespace mailsan::policyd {

std::string_view CheckRequest::own(std::string_view value) {
  // Each owned value keeps the storage before it alive: a short chain, for
  // front ends and tests that set a few values one by one.
  struct Owned {
    std::shared_ptr<const void> previous;
    std::string value;
  };
  auto owned = std::make_shared<Owned>(Owned{std::move(storage), std::string(value)});
  storage = owned;
  return owned->value;
}

}  // namespace mailsan::policyd
