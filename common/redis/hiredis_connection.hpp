// One hiredis async connection driven by Asio: the RAII owner of a
// redisAsyncContext and the event-library adapter hiredis needs
// (addRead/delRead/addWrite/delWrite/cleanup) built on async_wait on the
// context's file descriptor.
//
// Internal to common/redis: Client is the only caller. It moves bytes and
// reports replies; it knows nothing of timeouts, reconnects or scripts.
//
// Writes: hiredis only appends a command to its output buffer and asks for
// a write event; the socket is written when it is writable, so every command
// issued in the same turn of the event loop goes out in one write.
//
// Lifetime: hiredis frees the context by itself when the peer closes or an
// I/O error occurs, and calls every pending reply callback with a null
// reply while freeing (also inside redisAsyncFree). The cleanup hook marks the
// context gone, so nothing here touches it afterwards. Pending waits hold a
// shared_ptr to this object, never a pointer into hiredis.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/net/endpoint_address.hpp"

struct redisAsyncContext;
struct redisReply;

namespace mailsan::redis {

class HiredisConnection : public std::enable_shared_from_this<HiredisConnection> {
 public:
  // What the owner hears. Called only with the context in a consistent state:
  // on_reply from inside hiredis (so it must not call back into this
  // connection), on_io_done after hiredis has returned.
  class Events {
   public:
    virtual ~Events() = default;
    // One call per command sent, in order; reply is null when the connection
    // went away without an answer. The reply is hiredis' and freed after.
    virtual void on_reply(const redisReply* reply) = 0;
    // After each read or write event was handled (the connection may now be
    // dead: check alive()).
    virtual void on_io_done(HiredisConnection& connection) = 0;
  };

  // Starts a non-blocking connect. Returns null and sets *error when hiredis
  // fails at once (bad address, no such socket file). For TCP, HOST goes
  // through getaddrinfo inside hiredis, which blocks: use numeric addresses
  // or names in /etc/hosts.
  static std::shared_ptr<HiredisConnection> open(boost::asio::any_io_executor ex,
                                                 const net::EndpointAddress& address,
                                                 Events& events, std::string* error);

  // The owner must close() before it goes away; the destructor only frees
  // what is left, without reporting to the owner.
  ~HiredisConnection();
  HiredisConnection(const HiredisConnection&) = delete;
  HiredisConnection& operator=(const HiredisConnection&) = delete;

  bool alive() const { return context_ != nullptr; }
  // Queues one command (binary safe). False when the connection is gone or
  // going; then no on_reply will come for it.
  bool send(std::span<const std::string_view> argv);
  // Commands buffered since the last write.
  std::size_t unflushed() const { return unflushed_; }
  // Writes what hiredis has buffered now instead of at the next poll. On a
  // write error the connection is dead afterwards (alive() is false) and the
  // owner must handle that as after an I/O event.
  void flush();
  // Frees the context now: every pending command gets on_reply(nullptr)
  // before this returns. Must not be called from inside on_reply.
  void close();
  // hiredis' text for why the connection failed or ended ("Connection
  // refused", "Server closed the connection"); empty when unknown.
  const std::string& last_error() const { return last_error_; }

 private:
  struct Private {};

 public:
  HiredisConnection(Private, boost::asio::any_io_executor ex, redisAsyncContext* context,
                    Events& events);

 private:
  static void add_read(void* self);
  static void del_read(void* self);
  static void add_write(void* self);
  static void del_write(void* self);
  static void cleanup(void* self);
  static void reply_thunk(redisAsyncContext* context, void* reply, void* self);
  static void connect_thunk(const redisAsyncContext* context, int status);

  void wait_readable();
  void wait_writable();
  void on_readable(const boost::system::error_code& ec);
  void on_writable(const boost::system::error_code& ec);
  void remember_error();

  redisAsyncContext* context_;
  // A non-owning view of hiredis' fd: release()d in cleanup before hiredis
  // closes it, so Asio never closes or outlives it.
  boost::asio::posix::stream_descriptor descriptor_;
  Events* events_;
  bool want_read_ = false;
  bool want_write_ = false;
  bool read_waiting_ = false;
  bool write_waiting_ = false;
  std::string last_error_;
  std::string format_buffer_;  // reused by send()
  std::size_t unflushed_ = 0;
};

}  // namespace mailsan::redis
