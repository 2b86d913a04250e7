// IronLB native addon: only what Node.js lacks.
//   (a) AF_PACKET raw sockets bound to one interface: open, send, receive (libuv poll), multicast
//       membership, close; and interface facts (ifindex, MAC, flags) for interfaces without addresses.
//   (b) TCP-MD5 (RFC 2385): an outgoing TCP connection with a key, and keys on a listening socket.
// Every protocol lives in TypeScript. Linux only. Plain Node-API (C), NAPI_VERSION 8.
//
// Errors thrown or passed to callbacks are Error objects with `code` ("ENODEV"), `errno` (negative,
// as in Node) and `syscall`.

#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netpacket/packet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif
#ifndef TCP_MD5SIG_EXT
#define TCP_MD5SIG_EXT 32
#endif
#ifndef TCP_MD5SIG_FLAG_PREFIX
#define TCP_MD5SIG_FLAG_PREFIX 1
#endif

#define RECV_BUFFER_SIZE 65536
#define MAX_FRAMES_PER_WAKEUP 256 // the poll is level-triggered: the rest comes on the next turn

// ---------------------------------------------------------------------------------------------
// Errors and argument helpers

static napi_value make_errno_error(napi_env env, int err, const char* syscall, const char* detail) {
  char name[64];
  uv_err_name_r(-err, name, sizeof name);
  char msg[512];
  if (detail != NULL && detail[0] != '\0')
    snprintf(msg, sizeof msg, "%s %s (%s): %s", syscall, name, detail, strerror(err));
  else
    snprintf(msg, sizeof msg, "%s %s: %s", syscall, name, strerror(err));
  napi_value code, message, error, value;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -err, &value);
  napi_set_named_property(env, error, "errno", value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, error, "syscall", value);
  return error;
}

static napi_value throw_errno(napi_env env, int err, const char* syscall, const char* detail) {
  napi_throw(env, make_errno_error(env, err, syscall, detail));
  return NULL;
}

static napi_value throw_type(napi_env env, const char* msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

static napi_value throw_range(napi_env env, const char* msg) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
  return NULL;
}

// Throws (unless an exception is already pending) when a Node-API call fails.
#define NAPI_CALL(env, call)                                                                 \
  do {                                                                                       \
    if ((call) != napi_ok) {                                                                 \
      const napi_extended_error_info* info_;                                                 \
      napi_get_last_error_info((env), &info_);                                               \
      bool pending_ = false;                                                                 \
      napi_is_exception_pending((env), &pending_);                                           \
      if (!pending_)                                                                         \
        napi_throw_error((env), NULL,                                                        \
                         info_ && info_->error_message ? info_->error_message : #call);      \
      return NULL;                                                                           \
    }                                                                                        \
  } while (0)

static bool is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return true;
  return t == napi_undefined || t == napi_null;
}

// Copies a JS string into buf (NUL-terminated). Fails (with a thrown TypeError/RangeError) if it is not
// a string or does not fit.
static bool get_string(napi_env env, napi_value v, char* buf, size_t size, const char* what) {
  napi_valuetype t;
  char msg[128];
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    snprintf(msg, sizeof msg, "%s must be a string", what);
    throw_type(env, msg);
    return false;
  }
  size_t len = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  if (len + 1 > size) {
    snprintf(msg, sizeof msg, "%s is too long (%zu bytes, at most %zu)", what, len, size - 1);
    throw_range(env, msg);
    return false;
  }
  napi_get_value_string_utf8(env, v, buf, size, &len);
  return true;
}

static bool get_uint(napi_env env, napi_value v, uint32_t max, uint32_t* out, const char* what) {
  napi_valuetype t;
  char msg[128];
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    snprintf(msg, sizeof msg, "%s must be a number", what);
    throw_type(env, msg);
    return false;
  }
  napi_get_value_double(env, v, &d);
  if (!(d >= 0 && d <= (double)max) || d != (double)(uint32_t)d) {
    snprintf(msg, sizeof msg, "%s must be an integer from 0 to %u", what, max);
    throw_range(env, msg);
    return false;
  }
  *out = (uint32_t)d;
  return true;
}

// A Buffer or Uint8Array: pointer and length (no copy; valid during this call).
static bool get_bytes(napi_env env, napi_value v, const uint8_t** data, size_t* len, const char* what) {
  bool is_ta = false;
  char msg[128];
  if (napi_is_typedarray(env, v, &is_ta) == napi_ok && is_ta) {
    napi_typedarray_type type;
    size_t length;
    void* ptr;
    napi_get_typedarray_info(env, v, &type, &length, &ptr, NULL, NULL);
    if (type == napi_uint8_array || type == napi_uint8_clamped_array) {
      *data = ptr;
      *len = length;
      return true;
    }
  }
  snprintf(msg, sizeof msg, "%s must be a Buffer or Uint8Array", what);
  throw_type(env, msg);
  return false;
}

// Reads obj[name]; *present = false when missing, undefined or null.
static bool get_prop(napi_env env, napi_value obj, const char* name, napi_value* out, bool* present) {
  if (napi_get_named_property(env, obj, name, out) != napi_ok) return false;
  *present = !is_nullish(env, *out);
  return true;
}

static napi_value make_uint(napi_env env, uint32_t n) {
  napi_value v;
  napi_create_uint32(env, n, &v);
  return v;
}

static napi_value make_bool(napi_env env, bool b) {
  napi_value v;
  napi_get_boolean(env, b, &v);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Poll-backed handles (packet sockets and pending connects) and their lifetime.
//
// The C struct lives until all of these are over: the JS wrapper object (finalizer), the uv_poll_t
// (close callback) and the environment cleanup hook. While receiving / connecting, a strong reference
// to the JS object and to the callback keeps both alive even if the caller drops them.

enum { KIND_PACKET = 0x504b5431, KIND_CONNECT = 0x434e4e31 };

typedef struct io_handle {
  uint32_t kind;
  napi_env env;
  int fd;          // -1 once closed (or, for a connect, handed to JS)
  int ifindex;     // packet sockets
  uv_poll_t poll;
  bool poll_inited;   // uv_poll_init done and uv_close not yet called
  bool poll_closing;  // uv_close called, close callback pending
  bool active;        // receiving, or connect pending
  bool unref;         // do not keep the event loop alive
  bool finalized;     // JS wrapper is gone
  bool teardown;      // environment is shutting down
  int calling;        // > 0 while a JS callback runs (napi_make_callback still uses actx)
  bool release_pending;  // release_active() asked for during a callback
  napi_ref callback;
  napi_ref self;
  napi_async_context actx;
  napi_async_cleanup_hook_handle cleanup;
  uint8_t* buf;
  char detail[80];  // for error messages: the peer of a connect
} io_handle;

static void maybe_free(io_handle* h) {
  if (h->finalized && !h->poll_inited && !h->poll_closing && h->cleanup == NULL) {
    free(h->buf);
    free(h);
  }
}

static void on_poll_closed(uv_handle_t* handle) {
  io_handle* h = handle->data;
  h->poll_closing = false;
  if (h->teardown && h->cleanup != NULL) {
    napi_remove_async_cleanup_hook(h->cleanup);
    h->cleanup = NULL;
  }
  maybe_free(h);
}

// Drops what was held only while active (callback, self reference, async context). During a callback
// (e.g. close() from inside the frame listener) it waits until the callback has returned.
static void release_active(io_handle* h) {
  napi_env env = h->env;
  h->active = false;
  if (h->calling > 0 && !h->teardown) {
    h->release_pending = true;
    return;
  }
  h->release_pending = false;
  if (h->teardown) {  // the environment frees its references itself
    h->callback = NULL;
    h->self = NULL;
    h->actx = NULL;
    return;
  }
  if (h->callback != NULL) napi_delete_reference(env, h->callback);
  if (h->self != NULL) napi_delete_reference(env, h->self);
  if (h->actx != NULL) napi_async_destroy(env, h->actx);
  h->callback = NULL;
  h->self = NULL;
  h->actx = NULL;
}

// Stops and closes the poll handle; must happen before the fd is closed or handed over.
static void close_poll(io_handle* h) {
  if (!h->poll_inited) return;
  uv_poll_stop(&h->poll);
  uv_close((uv_handle_t*)&h->poll, on_poll_closed);
  h->poll_inited = false;
  h->poll_closing = true;
}

static void do_close(io_handle* h) {
  release_active(h);
  close_poll(h);
  if (h->fd >= 0) {
    close(h->fd);
    h->fd = -1;
  }
  if (h->cleanup != NULL && !h->teardown) {
    napi_remove_async_cleanup_hook(h->cleanup);
    h->cleanup = NULL;
  }
}

static void finalize_handle(napi_env env, void* data, void* hint) {
  io_handle* h = data;
  h->finalized = true;
  do_close(h);
  maybe_free(h);
}

// Environment teardown (process exit, worker termination): close everything so the loop can close.
static void cleanup_hook(napi_async_cleanup_hook_handle handle, void* arg) {
  io_handle* h = arg;
  h->teardown = true;
  release_active(h);
  close_poll(h);
  if (h->fd >= 0) {
    close(h->fd);
    h->fd = -1;
  }
  if (!h->poll_closing) {
    napi_remove_async_cleanup_hook(h->cleanup);
    h->cleanup = NULL;
    maybe_free(h);
  }
}

static napi_value new_handle(napi_env env, uint32_t kind, int fd, io_handle** out) {
  io_handle* h = calloc(1, sizeof *h);
  if (h == NULL) {
    close(fd);
    return throw_errno(env, ENOMEM, "calloc", NULL);
  }
  h->kind = kind;
  h->env = env;
  h->fd = fd;
  h->poll.data = h;
  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok ||
      napi_wrap(env, obj, h, finalize_handle, NULL, NULL) != napi_ok) {
    close(fd);
    free(h);
    napi_throw_error(env, NULL, "cannot create native handle");
    return NULL;
  }
  napi_add_async_cleanup_hook(env, cleanup_hook, h, &h->cleanup);
  *out = h;
  return obj;
}

static io_handle* get_handle(napi_env env, napi_value v, uint32_t kind) {
  io_handle* h = NULL;
  if (napi_unwrap(env, v, (void**)&h) != napi_ok || h == NULL || h->kind != kind) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    throw_type(env, kind == KIND_PACKET ? "not a packet socket handle" : "not a connect handle");
    return NULL;
  }
  return h;
}

static bool start_poll(napi_env env, io_handle* h, napi_value self, napi_value cb, int events,
                       uv_poll_cb on_event, const char* resource) {
  uv_loop_t* loop;
  int rc;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    napi_throw_error(env, NULL, "no event loop");
    return false;
  }
  if (!h->poll_inited) {
    if ((rc = uv_poll_init(loop, &h->poll, h->fd)) != 0) {
      throw_errno(env, -rc, "uv_poll_init", NULL);
      return false;
    }
    h->poll.data = h;
    h->poll_inited = true;
    if (h->unref) uv_unref((uv_handle_t*)&h->poll);
  }
  napi_value name;
  napi_create_string_utf8(env, resource, NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, cb, 1, &h->callback) != napi_ok ||
      napi_create_reference(env, self, 1, &h->self) != napi_ok ||
      napi_async_init(env, self, name, &h->actx) != napi_ok) {
    release_active(h);
    napi_throw_error(env, NULL, "cannot hold the callback");
    return false;
  }
  if ((rc = uv_poll_start(&h->poll, events, on_event)) != 0) {
    release_active(h);
    throw_errno(env, -rc, "uv_poll_start", NULL);
    return false;
  }
  h->active = true;
  return true;
}

// Calls the held callback from a libuv callback (a handle scope must be open). An exception thrown by
// the callback goes to process 'uncaughtException', as for any event callback. Returns false if the
// callback threw or could not be called.
static bool call_back(io_handle* h, napi_value cb, napi_async_context actx, size_t argc, napi_value* argv) {
  napi_env env = h->env;
  napi_value recv, result;
  napi_get_global(env, &recv);  // napi_make_callback needs an object as receiver
  h->calling++;
  napi_status s = napi_make_callback(env, actx, recv, cb, argc, argv, &result);
  h->calling--;
  bool ok = s == napi_ok;
  if (!ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
  }
  if (h->calling == 0 && h->release_pending) release_active(h);
  return ok;
}

// ---------------------------------------------------------------------------------------------
// AF_PACKET sockets

static bool get_ifname(napi_env env, napi_value v, char name[IFNAMSIZ]) {
  if (!get_string(env, v, name, IFNAMSIZ, "interface name")) return false;
  if (name[0] == '\0') {
    throw_range(env, "interface name is empty");
    return false;
  }
  return true;
}

// packetOpen(ifname: string, ethertype: number, filter?: Buffer) -> handle
// filter: a classic BPF program (struct sock_filter[], 8 bytes each, host byte order), attached before
// the socket is bound so that no unfiltered frame is ever queued.
static napi_value packet_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "packetOpen(ifname, ethertype, filter?)");
  char ifname[IFNAMSIZ];
  uint32_t ethertype;
  if (!get_ifname(env, argv[0], ifname)) return NULL;
  if (!get_uint(env, argv[1], 0xffff, &ethertype, "ethertype")) return NULL;
  const uint8_t* filter = NULL;
  size_t filter_len = 0;
  if (argc >= 3 && !is_nullish(env, argv[2])) {
    if (!get_bytes(env, argv[2], &filter, &filter_len, "filter")) return NULL;
    if (filter_len == 0 || filter_len % sizeof(struct sock_filter) != 0 ||
        filter_len / sizeof(struct sock_filter) > BPF_MAXINSNS)
      return throw_range(env, "filter must hold 1 to 4096 BPF instructions of 8 bytes");
  }

  unsigned ifindex = if_nametoindex(ifname);
  if (ifindex == 0) return throw_errno(env, errno, "if_nametoindex", ifname);

  // Protocol 0 at creation: the socket receives nothing until bind() names the protocol and interface,
  // so no frame from another interface is ever queued.
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", "AF_PACKET");
  int one = 1;
  // Best effort (Linux >= 4.20); outgoing frames are also skipped when reading.
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  if (filter != NULL) {
    struct sock_fprog prog = {
        .len = (unsigned short)(filter_len / sizeof(struct sock_filter)),
        .filter = (struct sock_filter*)filter,
    };
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) {
      int err = errno;
      close(fd);
      return throw_errno(env, err, "setsockopt", "SO_ATTACH_FILTER");
    }
  }
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons((uint16_t)ethertype);
  sll.sll_ifindex = (int)ifindex;
  if (bind(fd, (struct sockaddr*)&sll, sizeof sll) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind", ifname);
  }

  io_handle* h;
  napi_value obj = new_handle(env, KIND_PACKET, fd, &h);
  if (obj == NULL) return NULL;
  h->ifindex = (int)ifindex;
  h->buf = malloc(RECV_BUFFER_SIZE);
  if (h->buf == NULL) {
    do_close(h);
    return throw_errno(env, ENOMEM, "malloc", NULL);
  }
  napi_set_named_property(env, obj, "ifindex", make_uint(env, ifindex));
  return obj;
}

static void deliver_error(io_handle* h, int err, const char* syscall) {
  napi_env env = h->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb;
  if (h->callback != NULL && napi_get_reference_value(env, h->callback, &cb) == napi_ok && cb != NULL) {
    napi_value argv[1] = {make_errno_error(env, err, syscall, NULL)};
    call_back(h, cb, h->actx, 1, argv);
  }
  napi_close_handle_scope(env, scope);
}

static void on_packet_readable(uv_poll_t* poll, int status, int events) {
  io_handle* h = poll->data;
  napi_env env = h->env;
  if (status < 0) {
    // libuv reports POLLERR as UV_EBADF and stops the poll. On a packet socket POLLERR means a pending
    // socket error (ENETDOWN when the interface goes down): read it (which clears it), report it and
    // poll again. Anything else is reported once and ends reception rather than spin.
    int err = 0;
    socklen_t len = sizeof err;
    if (h->fd >= 0 && getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
      deliver_error(h, err, "recvfrom");
      if (h->active && h->fd >= 0 && h->poll_inited && uv_poll_start(&h->poll, UV_READABLE, on_packet_readable) == 0)
        return;
    } else {
      deliver_error(h, -status, "uv_poll");
    }
    if (h->poll_inited) uv_poll_stop(&h->poll);
    release_active(h);
    return;
  }
  for (int i = 0; i < MAX_FRAMES_PER_WAKEUP && h->active && h->fd >= 0; i++) {
    struct sockaddr_ll sll;
    socklen_t sll_len = sizeof sll;
    ssize_t n = recvfrom(h->fd, h->buf, RECV_BUFFER_SIZE, MSG_TRUNC, (struct sockaddr*)&sll, &sll_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      // e.g. ENETDOWN when the interface goes down: reported once, the socket stays usable.
      deliver_error(h, errno, "recvfrom");
      continue;
    }
    if (sll.sll_pkttype == PACKET_OUTGOING) continue;
    if ((size_t)n > RECV_BUFFER_SIZE) continue;  // truncated giant frame: never ARP or NDP

    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value cb, argv[3];
    void* copy;
    bool ok = h->callback != NULL && napi_get_reference_value(env, h->callback, &cb) == napi_ok && cb != NULL &&
              napi_create_buffer_copy(env, (size_t)n, h->buf, &copy, &argv[1]) == napi_ok;
    if (ok) {
      napi_get_null(env, &argv[0]);
      argv[2] = make_uint(env, sll.sll_pkttype);
      ok = call_back(h, cb, h->actx, 3, argv);
    }
    napi_close_handle_scope(env, scope);
    if (!ok) break;  // the callback threw; leave the rest for the next turn
  }
}

// packetStart(handle, callback(err: Error|null, frame?: Buffer, packetType?: number)) -> undefined
static napi_value packet_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "packetStart(handle, callback)");
  io_handle* h = get_handle(env, argv[0], KIND_PACKET);
  if (h == NULL) return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t != napi_function) return throw_type(env, "callback must be a function");
  if (h->fd < 0) return throw_errno(env, EBADF, "packetStart", "socket is closed");
  if (h->active) {
    napi_throw_error(env, "ERR_ALREADY_RECEIVING", "packet socket is already receiving");
    return NULL;
  }
  start_poll(env, h, argv[0], argv[1], UV_READABLE, on_packet_readable, "IronLBPacketSocket");
  return NULL;
}

// packetStop(handle): stop receiving (the socket stays open; frames queue in the kernel until it fills).
static napi_value packet_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_type(env, "packetStop(handle)");
  io_handle* h = get_handle(env, argv[0], KIND_PACKET);
  if (h == NULL) return NULL;
  if (h->poll_inited) uv_poll_stop(&h->poll);
  release_active(h);
  return NULL;
}

// packetSend(handle, frame: Buffer|Uint8Array) -> bytes sent. The frame is complete (Ethernet header
// included); it leaves through the bound interface.
static napi_value packet_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "packetSend(handle, frame)");
  io_handle* h = get_handle(env, argv[0], KIND_PACKET);
  if (h == NULL) return NULL;
  const uint8_t* data;
  size_t len;
  if (!get_bytes(env, argv[1], &data, &len, "frame")) return NULL;
  if (h->fd < 0) return throw_errno(env, EBADF, "send", "socket is closed");
  ssize_t n;
  do n = send(h->fd, data, len, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, errno, "send", NULL);
  return make_uint(env, (uint32_t)n);
}

static napi_value packet_membership(napi_env env, napi_callback_info info, bool add) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "packetAddMembership/packetDropMembership(handle, mac)");
  io_handle* h = get_handle(env, argv[0], KIND_PACKET);
  if (h == NULL) return NULL;
  const uint8_t* mac;
  size_t len;
  if (!get_bytes(env, argv[1], &mac, &len, "mac")) return NULL;
  if (len != 6) return throw_range(env, "mac must be 6 bytes");
  if (h->fd < 0) return throw_errno(env, EBADF, "setsockopt", "socket is closed");
  struct packet_mreq mr;
  memset(&mr, 0, sizeof mr);
  mr.mr_ifindex = h->ifindex;
  mr.mr_type = PACKET_MR_MULTICAST;
  mr.mr_alen = 6;
  memcpy(mr.mr_address, mac, 6);
  if (setsockopt(h->fd, SOL_PACKET, add ? PACKET_ADD_MEMBERSHIP : PACKET_DROP_MEMBERSHIP, &mr, sizeof mr) < 0)
    return throw_errno(env, errno, "setsockopt", add ? "PACKET_ADD_MEMBERSHIP" : "PACKET_DROP_MEMBERSHIP");
  return NULL;
}

// packetAddMembership(handle, mac: 6-byte Buffer): receive frames sent to this multicast MAC.
static napi_value packet_add_membership(napi_env env, napi_callback_info info) {
  return packet_membership(env, info, true);
}

// packetDropMembership(handle, mac). Memberships are counted per socket: one drop per add.
static napi_value packet_drop_membership(napi_env env, napi_callback_info info) {
  return packet_membership(env, info, false);
}

// packetSetRef(handle, ref: boolean): whether a receiving socket keeps the event loop alive (default true).
static napi_value packet_set_ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "packetSetRef(handle, ref)");
  io_handle* h = get_handle(env, argv[0], KIND_PACKET);
  if (h == NULL) return NULL;
  bool ref = true;
  if (napi_get_value_bool(env, argv[1], &ref) != napi_ok) return throw_type(env, "ref must be a boolean");
  h->unref = !ref;
  if (h->poll_inited) {
    if (ref)
      uv_ref((uv_handle_t*)&h->poll);
    else
      uv_unref((uv_handle_t*)&h->poll);
  }
  return NULL;
}

// packetClose(handle): idempotent; also allowed from inside the frame callback.
static napi_value packet_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_type(env, "packetClose(handle)");
  io_handle* h = get_handle(env, argv[0], KIND_PACKET);
  if (h == NULL) return NULL;
  do_close(h);
  return NULL;
}

// interfaceInfo(ifname) -> { name, ifindex, mac: Buffer|null, hardwareType, mtu, flags, up, running,
//   broadcast, loopback, pointToPoint, noarp, multicast, slave, master }
// Works for interfaces without addresses, in the network namespace of the calling thread.
static napi_value interface_info(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_type(env, "interfaceInfo(ifname)");
  char ifname[IFNAMSIZ];
  if (!get_ifname(env, argv[0], ifname)) return NULL;

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", NULL);
  struct ifreq ifr;
  int ifindex, flags, mtu, hwtype;
  uint8_t mac[6];
#define IFR_IOCTL(req, name)                               \
  memset(&ifr, 0, sizeof ifr);                             \
  memcpy(ifr.ifr_name, ifname, strlen(ifname) + 1);        \
  if (ioctl(fd, req, &ifr) < 0) {                          \
    int err = errno;                                       \
    close(fd);                                             \
    return throw_errno(env, err, "ioctl " name, ifname);   \
  }
  IFR_IOCTL(SIOCGIFINDEX, "SIOCGIFINDEX")
  ifindex = ifr.ifr_ifindex;
  IFR_IOCTL(SIOCGIFFLAGS, "SIOCGIFFLAGS")
  flags = (unsigned short)ifr.ifr_flags;
  IFR_IOCTL(SIOCGIFMTU, "SIOCGIFMTU")
  mtu = ifr.ifr_mtu;
  IFR_IOCTL(SIOCGIFHWADDR, "SIOCGIFHWADDR")
  hwtype = ifr.ifr_hwaddr.sa_family;
  memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
#undef IFR_IOCTL
  close(fd);

  napi_value obj, v;
  NAPI_CALL(env, napi_create_object(env, &obj));
  napi_create_string_utf8(env, ifname, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "name", v);
  napi_set_named_property(env, obj, "ifindex", make_uint(env, (uint32_t)ifindex));
  if (hwtype == ARPHRD_ETHER || hwtype == ARPHRD_LOOPBACK) {
    void* copy;
    NAPI_CALL(env, napi_create_buffer_copy(env, 6, mac, &copy, &v));
  } else {
    napi_get_null(env, &v);  // no 6-byte MAC (tun, wireguard, infiniband, ...)
  }
  napi_set_named_property(env, obj, "mac", v);
  napi_set_named_property(env, obj, "hardwareType", make_uint(env, (uint32_t)hwtype));
  napi_set_named_property(env, obj, "mtu", make_uint(env, (uint32_t)mtu));
  napi_set_named_property(env, obj, "flags", make_uint(env, (uint32_t)flags));
  napi_set_named_property(env, obj, "up", make_bool(env, flags & IFF_UP));
  napi_set_named_property(env, obj, "running", make_bool(env, flags & IFF_RUNNING));
  napi_set_named_property(env, obj, "broadcast", make_bool(env, flags & IFF_BROADCAST));
  napi_set_named_property(env, obj, "loopback", make_bool(env, flags & IFF_LOOPBACK));
  napi_set_named_property(env, obj, "pointToPoint", make_bool(env, flags & IFF_POINTOPOINT));
  napi_set_named_property(env, obj, "noarp", make_bool(env, flags & IFF_NOARP));
  napi_set_named_property(env, obj, "multicast", make_bool(env, flags & IFF_MULTICAST));
  napi_set_named_property(env, obj, "slave", make_bool(env, flags & IFF_SLAVE));
  napi_set_named_property(env, obj, "master", make_bool(env, flags & IFF_MASTER));
  return obj;
}

// ---------------------------------------------------------------------------------------------
// TCP-MD5

// Numeric address (scope suffix "fe80::1%eth0" allowed) to a sockaddr. Throws on failure.
static bool parse_address(napi_env env, const char* text, uint16_t port, struct sockaddr_storage* ss,
                          socklen_t* len, const char* what) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  char portbuf[8];
  snprintf(portbuf, sizeof portbuf, "%u", port);
  if (getaddrinfo(text, portbuf, &hints, &res) != 0 || res == NULL) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s \"%s\" is not an IP address", what, text);
    napi_throw_type_error(env, "ERR_INVALID_IP_ADDRESS", msg);
    return false;
  }
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

static int socket_domain(int fd) {
  int domain = -1;
  socklen_t len = sizeof domain;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) return -1;
  return domain;
}

// Matches the peer address to the socket's family: an IPv4 peer on an IPv6 (dual-stack) socket becomes
// ::ffff:a.b.c.d, which is how the kernel sees such a peer. Returns 0 or an errno.
static int address_for_socket(int domain, struct sockaddr_storage* ss) {
  if (domain == AF_INET6 && ss->ss_family == AF_INET) {
    struct sockaddr_in v4 = *(struct sockaddr_in*)ss;
    struct sockaddr_in6* v6 = (struct sockaddr_in6*)ss;
    memset(v6, 0, sizeof *v6);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = v4.sin_port;
    v6->sin6_addr.s6_addr[10] = 0xff;
    v6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&v6->sin6_addr.s6_addr[12], &v4.sin_addr, 4);
  } else if (domain == AF_INET && ss->ss_family == AF_INET6) {
    struct sockaddr_in6 v6 = *(struct sockaddr_in6*)ss;
    if (!IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) return EAFNOSUPPORT;
    struct sockaddr_in* v4 = (struct sockaddr_in*)ss;
    memset(v4, 0, sizeof *v4);
    v4->sin_family = AF_INET;
    v4->sin_port = v6.sin6_port;
    memcpy(&v4->sin_addr, &v6.sin6_addr.s6_addr[12], 4);
  } else if (domain != AF_INET && domain != AF_INET6) {
    return ENOTSOCK;
  }
  return 0;
}

// Sets (keylen > 0) or removes (keylen == 0) the key for one peer, or for a prefix (prefix >= 0).
static int set_md5_key(int fd, const struct sockaddr_storage* peer, const uint8_t* key, size_t keylen, int prefix) {
  struct tcp_md5sig sig;
  memset(&sig, 0, sizeof sig);
  memcpy(&sig.tcpm_addr, peer, sizeof sig.tcpm_addr);
  sig.tcpm_keylen = (uint16_t)keylen;
  if (keylen > 0) memcpy(sig.tcpm_key, key, keylen);
  int optname = TCP_MD5SIG;
  if (prefix >= 0) {
    optname = TCP_MD5SIG_EXT;
    sig.tcpm_flags = TCP_MD5SIG_FLAG_PREFIX;
    sig.tcpm_prefixlen = (uint8_t)prefix;
  }
  return setsockopt(fd, IPPROTO_TCP, optname, &sig, sizeof sig) < 0 ? errno : 0;
}

static int set_ttl(int fd, int domain, int ttl) {
  if (domain == AF_INET6) {
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl) < 0) return errno;
    setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);  // for IPv4-mapped peers; best effort
    return 0;
  }
  return setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) < 0 ? errno : 0;
}

// A key: string (UTF-8 bytes) or Buffer/Uint8Array, at most 80 bytes.
static bool get_key(napi_env env, napi_value v, uint8_t key[TCP_MD5SIG_MAXKEYLEN], size_t* keylen) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_string) {
    char buf[TCP_MD5SIG_MAXKEYLEN + 1];
    if (!get_string(env, v, buf, sizeof buf, "key")) return false;
    *keylen = strlen(buf);
    memcpy(key, buf, *keylen);
    return true;
  }
  const uint8_t* data;
  if (!get_bytes(env, v, &data, keylen, "key")) return false;
  if (*keylen > TCP_MD5SIG_MAXKEYLEN) {
    throw_range(env, "key is longer than 80 bytes");
    return false;
  }
  memcpy(key, data, *keylen);
  return true;
}

static void on_connect_writable(uv_poll_t* poll, int status, int events) {
  io_handle* h = poll->data;
  napi_env env = h->env;
  // The outcome is SO_ERROR. (libuv reports POLLERR, e.g. a refused connection, as UV_EBADF.)
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err == 0 && status < 0) err = -status;
  if (err == 0 && !(events & UV_WRITABLE)) return;
  // Stop watching the fd before it is handed over (libuv must not see it twice).
  close_poll(h);
  int fd = h->fd;
  h->fd = -1;
  if (err != 0) close(fd);

  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb;
  if (h->callback != NULL && napi_get_reference_value(env, h->callback, &cb) == napi_ok && cb != NULL) {
    napi_value argv[2];
    if (err != 0) {
      argv[0] = make_errno_error(env, err, "connect", h->detail);
      napi_get_undefined(env, &argv[1]);
    } else {
      napi_get_null(env, &argv[0]);
      napi_create_int32(env, fd, &argv[1]);
    }
    call_back(h, cb, h->actx, 2, argv);
  } else if (err == 0) {
    close(fd);
  }
  napi_close_handle_scope(env, scope);
  do_close(h);
}

// tcpMd5Connect({ peer, port, local?, localPort?, key?, ttl? }, callback(err, fd?)) -> handle
// Creates a non-blocking TCP socket, binds it (if local/localPort), sets TCP_MD5SIG for the peer (if a
// non-empty key), sets the unicast TTL / hop limit (if ttl), and connects. The callback runs once with
// the connected fd (the caller owns it: wrap it with new net.Socket({ fd })) or an Error. Invalid
// arguments and immediate failures throw instead.
static napi_value tcp_md5_connect(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "tcpMd5Connect(options, callback)");
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  if (t != napi_object) return throw_type(env, "options must be an object");
  napi_typeof(env, argv[1], &t);
  if (t != napi_function) return throw_type(env, "callback must be a function");

  napi_value v;
  bool present;
  char peer[INET6_ADDRSTRLEN + IFNAMSIZ + 2], local[INET6_ADDRSTRLEN + IFNAMSIZ + 2];
  uint32_t port, local_port = 0, ttl = 0;
  bool has_local = false, has_local_port = false, has_ttl = false;
  uint8_t key[TCP_MD5SIG_MAXKEYLEN];
  size_t keylen = 0;

  if (!get_prop(env, argv[0], "peer", &v, &present)) return NULL;
  if (!present) return throw_type(env, "options.peer is required");
  if (!get_string(env, v, peer, sizeof peer, "options.peer")) return NULL;
  if (!get_prop(env, argv[0], "port", &v, &present)) return NULL;
  if (!present) return throw_type(env, "options.port is required");
  if (!get_uint(env, v, 65535, &port, "options.port")) return NULL;
  if (port == 0) return throw_range(env, "options.port must not be 0");
  if (!get_prop(env, argv[0], "local", &v, &present)) return NULL;
  if (present) {
    if (!get_string(env, v, local, sizeof local, "options.local")) return NULL;
    has_local = true;
  }
  if (!get_prop(env, argv[0], "localPort", &v, &present)) return NULL;
  if (present) {
    if (!get_uint(env, v, 65535, &local_port, "options.localPort")) return NULL;
    has_local_port = local_port != 0;
  }
  if (!get_prop(env, argv[0], "key", &v, &present)) return NULL;
  if (present && !get_key(env, v, key, &keylen)) return NULL;
  if (!get_prop(env, argv[0], "ttl", &v, &present)) return NULL;
  if (present) {
    if (!get_uint(env, v, 255, &ttl, "options.ttl")) return NULL;
    if (ttl == 0) return throw_range(env, "options.ttl must be 1 to 255");
    has_ttl = true;
  }

  struct sockaddr_storage peer_addr, local_addr;
  socklen_t peer_len, local_len = 0;
  if (!parse_address(env, peer, (uint16_t)port, &peer_addr, &peer_len, "options.peer")) return NULL;
  int domain = peer_addr.ss_family;
  if (has_local) {
    if (!parse_address(env, local, (uint16_t)local_port, &local_addr, &local_len, "options.local")) return NULL;
    if (address_for_socket(domain, &local_addr) != 0)
      return throw_range(env, "options.local and options.peer are of different address families");
    local_len = domain == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
  } else if (has_local_port) {
    memset(&local_addr, 0, sizeof local_addr);
    local_addr.ss_family = (sa_family_t)domain;
    if (domain == AF_INET) {
      ((struct sockaddr_in*)&local_addr)->sin_port = htons((uint16_t)local_port);
      local_len = sizeof(struct sockaddr_in);
    } else {
      ((struct sockaddr_in6*)&local_addr)->sin6_port = htons((uint16_t)local_port);
      local_len = sizeof(struct sockaddr_in6);
    }
  }

  int fd = socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return throw_errno(env, errno, "socket", NULL);
  int err = 0;
  const char* what = NULL;
  int one = 1;
  if (has_local_port && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
    err = errno;
    what = "setsockopt SO_REUSEADDR";
  }
  if (!err && local_len > 0 && bind(fd, (struct sockaddr*)&local_addr, local_len) < 0) {
    err = errno;
    what = "bind";
  }
  if (!err && keylen > 0 && (err = set_md5_key(fd, &peer_addr, key, keylen, -1)) != 0) what = "setsockopt TCP_MD5SIG";
  if (!err && has_ttl && (err = set_ttl(fd, domain, (int)ttl)) != 0) what = "setsockopt TTL";
  if (!err) {
    int rc;
    do rc = connect(fd, (struct sockaddr*)&peer_addr, peer_len);
    while (rc < 0 && errno == EINTR);
    if (rc < 0 && errno != EINPROGRESS) {
      err = errno;
      what = "connect";
    }
  }
  if (err) {
    close(fd);
    return throw_errno(env, err, what, peer);
  }

  io_handle* h;
  napi_value obj = new_handle(env, KIND_CONNECT, fd, &h);
  if (obj == NULL) return NULL;
  snprintf(h->detail, sizeof h->detail, "%s port %u", peer, port);
  napi_create_int32(env, fd, &v);
  napi_set_named_property(env, obj, "fd", v);
  if (!start_poll(env, h, obj, argv[1], UV_WRITABLE, on_connect_writable, "IronLBTcpMd5Connect")) {
    do_close(h);
    return NULL;
  }
  return obj;
}

// tcpConnectCancel(handle): abandons a pending connect (closes its fd); the callback is not called.
static napi_value tcp_connect_cancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_type(env, "tcpConnectCancel(handle)");
  io_handle* h = get_handle(env, argv[0], KIND_CONNECT);
  if (h == NULL) return NULL;
  do_close(h);
  return NULL;
}

// tcpMd5SetKey(fd, peer: string, key: string|Buffer, prefixLength?: number)
// Sets the key for connections from/to peer on a TCP socket (typically a listener: accepted sockets
// inherit it). An empty key removes the peer's key. With prefixLength, the key covers peer/prefix
// (TCP_MD5SIG_EXT; for an IPv4 peer the prefix is an IPv4 prefix length, also on a dual-stack socket).
static napi_value tcp_md5_set_key(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_type(env, "tcpMd5SetKey(fd, peer, key, prefixLength?)");
  uint32_t fd, prefix = 0;
  char peer[INET6_ADDRSTRLEN + IFNAMSIZ + 2];
  uint8_t key[TCP_MD5SIG_MAXKEYLEN];
  size_t keylen = 0;
  bool has_prefix = argc >= 4 && !is_nullish(env, argv[3]);
  if (!get_uint(env, argv[0], INT32_MAX, &fd, "fd")) return NULL;
  if (!get_string(env, argv[1], peer, sizeof peer, "peer")) return NULL;
  if (!get_key(env, argv[2], key, &keylen)) return NULL;
  if (has_prefix && !get_uint(env, argv[3], 128, &prefix, "prefixLength")) return NULL;

  struct sockaddr_storage addr;
  socklen_t len;
  if (!parse_address(env, peer, 0, &addr, &len, "peer")) return NULL;
  bool v4 = addr.ss_family == AF_INET;
  if (has_prefix && v4 && prefix > 32) return throw_range(env, "prefixLength of an IPv4 peer must be 0 to 32");
  int domain = socket_domain((int)fd);
  if (domain < 0) return throw_errno(env, errno, "getsockopt", "SO_DOMAIN");
  int err = address_for_socket(domain, &addr);
  if (err) return throw_errno(env, err, "tcpMd5SetKey", "an IPv6 peer on an IPv4 socket");
  if ((err = set_md5_key((int)fd, &addr, key, keylen, has_prefix ? (int)prefix : -1)) != 0)
    return throw_errno(env, err, "setsockopt", has_prefix ? "TCP_MD5SIG_EXT" : "TCP_MD5SIG");
  return NULL;
}

// tcpSetTtl(fd, ttl): unicast TTL (IPv4) / hop limit (IPv6) of a TCP socket, e.g. an accepted one.
static napi_value tcp_set_ttl(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "tcpSetTtl(fd, ttl)");
  uint32_t fd, ttl;
  if (!get_uint(env, argv[0], INT32_MAX, &fd, "fd")) return NULL;
  if (!get_uint(env, argv[1], 255, &ttl, "ttl")) return NULL;
  if (ttl == 0) return throw_range(env, "ttl must be 1 to 255");
  int domain = socket_domain((int)fd);
  if (domain < 0) return throw_errno(env, errno, "getsockopt", "SO_DOMAIN");
  int err = set_ttl((int)fd, domain, (int)ttl);
  if (err) return throw_errno(env, err, "setsockopt", "TTL");
  return NULL;
}

// ---------------------------------------------------------------------------------------------

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"packetOpen", NULL, packet_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"packetStart", NULL, packet_start, NULL, NULL, NULL, napi_enumerable, NULL},
      {"packetStop", NULL, packet_stop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"packetSend", NULL, packet_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"packetAddMembership", NULL, packet_add_membership, NULL, NULL, NULL, napi_enumerable, NULL},
      {"packetDropMembership", NULL, packet_drop_membership, NULL, NULL, NULL, napi_enumerable, NULL},
      {"packetSetRef", NULL, packet_set_ref, NULL, NULL, NULL, napi_enumerable, NULL},
      {"packetClose", NULL, packet_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"interfaceInfo", NULL, interface_info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tcpMd5Connect", NULL, tcp_md5_connect, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tcpConnectCancel", NULL, tcp_connect_cancel, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tcpMd5SetKey", NULL, tcp_md5_set_key, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tcpSetTtl", NULL, tcp_set_ttl, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
