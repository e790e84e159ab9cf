// What earlier checks of a request found, as typed records a later check asks
// for by type: the greylist check asks for the DNSBL check's DnsblFinding, so
// the order dependency is written in the code that has it, and a new check
// adds a record type of its own instead of a flag in a shared struct.
//
// Single-threaded like the rest of a request: lookups and decisions run on
// one executor. A record lives on the heap and keeps its address for the
// transaction's life, so a lookup may hold a reference across a co_await.
#pragma once

#include <memory>
#include <utility>
#include <vector>

namespace mailsan::policyd {

class Findings {
 public:
  // Stores `value` as the record of its type, replacing an earlier one.
  template <typename T>
  T& record(T value) {
    for (auto& e : entries_)
      if (e.type == type_of<T>()) return *static_cast<T*>(e.value.get()) = std::move(value);
    entries_.push_back({type_of<T>(), Owned(new T(std::move(value)), &destroy<T>)});
    return *static_cast<T*>(entries_.back().value.get());
  }
  // The record of this type, or null when no check recorded one.
  template <typename T>
  const T* find() const {
    for (const auto& e : entries_)
      if (e.type == type_of<T>()) return static_cast<const T*>(e.value.get());
    return nullptr;
  }
  template <typename T>
  T* find_mutable() {
    return const_cast<T*>(std::as_const(*this).find<T>());
  }

 private:
  using Owned = std::unique_ptr<void, void (*)(void*)>;
  struct Entry {
    const void* type;
    Owned value;
  };
  // One address per record type: a type id without RTTI.
  template <typename T>
  static const void* type_of() {
    static const char tag = 0;
    return &tag;
  }
  template <typename T>
  static void destroy(void* p) {
    delete static_cast<T*>(p);
  }
  std::vector<Entry> entries_;
};

}  // namespace mailsan::policyd
