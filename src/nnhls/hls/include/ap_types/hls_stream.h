// hls::stream for C simulation.
//
// By default an unbounded FIFO, as in the vendor's C simulation, where a dataflow region's stages
// run one after another and a stream must hold everything its producer writes. A design that
// reads more than was written is a bug the hardware would show as a hang, so such a read aborts
// with the stream's name.
//
// With NNHLS_THREADED_DATAFLOW (see nnhls/dataflow.h) every stage runs in a thread of its own
// and a stream holds at most its depth, as a FIFO does in hardware, so that a depth too small for
// the design hangs here too instead of only in co-simulation. A hang is then detected exactly:
// every thread that could still move data waits on a stream or on its stages (read() while
// empty, write() while full), so none ever will. The program prints which streams are full and
// which empty and exits with status 3.
#ifndef NNHLS_HLS_STREAM_H
#define NNHLS_HLS_STREAM_H

#if defined(NNHLS_THREADED_DATAFLOW) && !defined(__SYNTHESIS__)

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace nnhls {
namespace dataflow_sim {

// What the deadlock report shows of a stream. Like everything here it is guarded by the one
// mutex of state: this mode checks FIFO depths on a few samples, and one lock keeps the
// deadlock test a plain look at a consistent state.
struct channel {
  std::string name;
  std::string owner;      // where the stream was declared (see place())
  unsigned capacity = 0;  // 0: unbounded, as top-function ports and testbench streams are
  std::size_t count = 0;
  bool readable() const { return count > 0; }
  bool writable() const { return capacity == 0 || count < capacity; }
};

enum wait_kind { reading, writing, joining };

// A blocked thread and what it waits for.
struct waiter {
  wait_kind kind;
  const channel* stream;     // reading, writing
  const unsigned* running;   // joining: how many of the region's stages still run
  const std::string* place;  // the waiting thread's place()
  bool ready() const {
    return kind == reading ? stream->readable() : kind == writing ? stream->writable() : *running == 0;
  }
};

struct state {
  std::mutex mutex;
  std::condition_variable changed;  // any packet moved, any depth or stage count changed
  std::vector<const channel*> channels;
  std::vector<const waiter*> waiters;
  std::vector<const std::string*> stage_places;  // of the stage threads running
  // The program's own thread, which calls the top function (a testbench runs on one thread),
  // and every stage thread still running.
  unsigned live = 1;
  unsigned stages = 0;
  std::chrono::steady_clock::time_point last_move = std::chrono::steady_clock::now();
  bool watching = false;  // the stall watchdog of nnhls/dataflow.h has started
};

// Never destroyed: a detached watchdog still holds it while the program exits.
inline state& shared() {
  static state* s = new state;
  return *s;
}

// Where the calling thread runs, for the report: empty on the program's thread outside any
// region, else the top function followed by the stage calls that led here.
inline std::string& place() {
  thread_local std::string where;
  return where;
}

inline const char* shown(const std::string& text, const char* otherwise) {
  return text.empty() ? otherwise : text.c_str();
}

// With the mutex held: the report, then exit; `what` is "deadlock" or "stall".
[[noreturn]] inline void fail(const char* what) {
  const state& s = shared();
  std::fprintf(stderr, "nnhls dataflow %s:\n  threads (%u of %u blocked):\n", what,
               unsigned(s.waiters.size()), s.live);
  for (const waiter* w : s.waiters) {
    const char* who = shown(*w->place, "main");
    if (w->kind == reading) {
      std::fprintf(stderr, "    %s: reading %s (empty)\n", who, shown(w->stream->name, "<unnamed>"));
    } else if (w->kind == writing) {
      std::fprintf(stderr, "    %s: writing %s (full, %u/%u)\n", who, shown(w->stream->name, "<unnamed>"),
                   unsigned(w->stream->count), w->stream->capacity);
    } else {
      std::fprintf(stderr, "    %s: waiting for its stages (%u running)\n", who, *w->running);
    }
  }
  for (const std::string* stage : s.stage_places) {
    bool waiting = false;
    for (const waiter* w : s.waiters) waiting = waiting || w->place == stage;
    if (!waiting) std::fprintf(stderr, "    %s: running\n", stage->c_str());
  }
  std::fprintf(stderr, "  streams (size/capacity):\n");
  for (const channel* c : s.channels) {
    std::string where = c->owner.empty() ? "" : " (" + c->owner + ")";
    std::string capacity = c->capacity ? std::to_string(c->capacity) : "unbounded";
    const char* fill = !c->writable() ? " full" : !c->readable() ? " empty" : "";
    std::fprintf(stderr, "    %s%s: %u/%s%s\n", shown(c->name, "<unnamed>"), where.c_str(),
                 unsigned(c->count), capacity.c_str(), fill);
  }
  std::fflush(stderr);
  std::_Exit(3);
}

// With the mutex held, after a thread stopped (it blocked or ended): when every live thread
// waits and none of the waits is satisfied, no thread will ever move a packet again. A waiter
// that was notified but has not woken yet is still listed, so the test asks each whether it is
// ready rather than counting.
inline void check_deadlock() {
  const state& s = shared();
  if (s.waiters.size() < s.live) return;
  for (const waiter* w : s.waiters) {
    if (w->ready()) return;
  }
  fail("deadlock");
}

// With the mutex held through `lock`: returns once `w` is ready.
inline void block(std::unique_lock<std::mutex>& lock, const waiter& w) {
  if (w.ready()) return;
  state& s = shared();
  s.waiters.push_back(&w);
  check_deadlock();
  while (!w.ready()) s.changed.wait(lock);
  s.waiters.erase(std::find(s.waiters.begin(), s.waiters.end(), &w));
}

// With the mutex held: a packet moved.
inline void moved() {
  state& s = shared();
  s.last_move = std::chrono::steady_clock::now();
  s.changed.notify_all();
}

}  // namespace dataflow_sim
}  // namespace nnhls

namespace hls {

template <class T>
class stream {
 public:
  stream() { enrol(""); }
  stream(const char* name) { enrol(name ? name : ""); }
  stream(const std::string& name) { enrol(name); }
  ~stream() {
    nnhls::dataflow_sim::state& s = nnhls::dataflow_sim::shared();
    std::lock_guard<std::mutex> lock(s.mutex);
    s.channels.erase(std::find(s.channels.begin(), s.channels.end(), &info_));
  }
  // A stream is a hardware channel: copying one would duplicate its contents.
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;

  // At most `depth` packets from now on; 0: unbounded.
  void set_depth(unsigned depth) {
    nnhls::dataflow_sim::state& s = nnhls::dataflow_sim::shared();
    std::lock_guard<std::mutex> lock(s.mutex);
    info_.capacity = depth;
    s.changed.notify_all();  // a deeper FIFO may take a waiting writer's packet
  }

  T read() {
    nnhls::dataflow_sim::state& s = nnhls::dataflow_sim::shared();
    std::unique_lock<std::mutex> lock(s.mutex);
    nnhls::dataflow_sim::block(lock, {nnhls::dataflow_sim::reading, &info_, nullptr,
                                      &nnhls::dataflow_sim::place()});
    return pop();
  }
  void read(T& v) { v = read(); }
  void write(const T& v) {
    nnhls::dataflow_sim::state& s = nnhls::dataflow_sim::shared();
    std::unique_lock<std::mutex> lock(s.mutex);
    nnhls::dataflow_sim::block(lock, {nnhls::dataflow_sim::writing, &info_, nullptr,
                                      &nnhls::dataflow_sim::place()});
    push(v);
  }
  void operator>>(T& v) { read(v); }
  void operator<<(const T& v) { write(v); }

  bool read_nb(T& v) {
    std::lock_guard<std::mutex> lock(nnhls::dataflow_sim::shared().mutex);
    if (!info_.readable()) return false;
    v = pop();
    return true;
  }
  bool write_nb(const T& v) {
    std::lock_guard<std::mutex> lock(nnhls::dataflow_sim::shared().mutex);
    if (!info_.writable()) return false;
    push(v);
    return true;
  }

  bool empty() const {
    std::lock_guard<std::mutex> lock(nnhls::dataflow_sim::shared().mutex);
    return !info_.readable();
  }
  bool full() const {
    std::lock_guard<std::mutex> lock(nnhls::dataflow_sim::shared().mutex);
    return !info_.writable();
  }
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(nnhls::dataflow_sim::shared().mutex);
    return info_.count;
  }
  const std::string& name() const { return info_.name; }

 private:
  void enrol(const std::string& name) {
    nnhls::dataflow_sim::state& s = nnhls::dataflow_sim::shared();
    std::lock_guard<std::mutex> lock(s.mutex);
    info_.name = name;
    info_.owner = nnhls::dataflow_sim::place();
    s.channels.push_back(&info_);
  }
  // pop() and push() with the mutex held.
  T pop() {
    T v = fifo_.front();
    fifo_.pop_front();
    info_.count = fifo_.size();
    nnhls::dataflow_sim::moved();
    return v;
  }
  void push(const T& v) {
    fifo_.push_back(v);
    info_.count = fifo_.size();
    nnhls::dataflow_sim::moved();
  }

  std::deque<T> fifo_;
  nnhls::dataflow_sim::channel info_;
};

}  // namespace hls

#else  // the vendor's C simulation model: unbounded, one thread

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>

namespace hls {

template <class T>
class stream {
 public:
  stream() {}
  stream(const char* name) : name_(name ? name : "") {}
  stream(const std::string& name) : name_(name) {}
  // A stream is a hardware channel: copying one would duplicate its contents.
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;

  T read() {
    if (fifo_.empty()) {
      std::fprintf(stderr, "hls::stream '%s' read while empty\n", name_.c_str());
      std::abort();
    }
    T v = fifo_.front();
    fifo_.pop_front();
    return v;
  }
  void read(T& v) { v = read(); }
  void write(const T& v) { fifo_.push_back(v); }
  void operator>>(T& v) { read(v); }
  void operator<<(const T& v) { write(v); }

  bool read_nb(T& v) {
    if (fifo_.empty()) return false;
    read(v);
    return true;
  }
  bool write_nb(const T& v) {
    write(v);
    return true;
  }

  bool empty() const { return fifo_.empty(); }
  bool full() const { return false; }
  std::size_t size() const { return fifo_.size(); }
  const std::string& name() const { return name_; }

 private:
  std::deque<T> fifo_;
  std::string name_;
};

}  // namespace hls

#endif  // NNHLS_THREADED_DATAFLOW

#endif  // NNHLS_HLS_STREAM_H
