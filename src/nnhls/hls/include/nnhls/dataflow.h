// Dataflow regions that C simulation can run concurrently, to check FIFO depths.
//
// The vendor's C simulation runs a region's stages one after another over unbounded streams, so
// a FIFO too shallow for the design never shows there: where two paths from one producer meet
// again, the short path's FIFO must hold everything the long path delays, or the hardware hangs
// (and co-simulation, hours later). Compiled
// with NNHLS_THREADED_DATAFLOW and nnhls's own hls_stream.h, each stage runs in a thread of its
// own and each internal stream holds only its declared depth, so a depth that would hang the
// hardware hangs the simulation too, where hls_stream.h detects and reports it. Otherwise
// (the vendor's tools, synthesis, nnhls's ordinary C simulation) the macros are the plain code:
//
//   void top(hls::stream<a_t>& in, hls::stream<c_t>& out) {
//   #pragma HLS DATAFLOW
//     NNHLS_DATAFLOW_REGION
//     hls::stream<b_t> middle("middle");
//   #pragma HLS STREAM variable=middle depth=4
//     NNHLS_STREAM_DEPTH(middle, 4)
//     NNHLS_STAGE(first<a_t, b_t, config1>(in, middle))
//     NNHLS_STAGE(second<b_t, c_t, config2>(middle, out))
//     NNHLS_DATAFLOW_END
//   }
//
// NNHLS_DATAFLOW_END joins the stages before the streams declared after the region go out of
// scope. A stage may itself be a region. Any other statement in a region runs on the region's
// own thread, in order, so a call there that fills a bounded stream waits for a stage that has
// not started yet: every process of a region is a stage. In the threaded build, NNHLS_FIFO_DEPTHS
// ("name=depth,name=depth", names as given to the streams' constructors) overrides the depths
// that NNHLS_STREAM_DEPTH declares, and NNHLS_DATAFLOW_TIMEOUT_MS (default 20000) is how long no
// packet may move while stages run before the program reports a stall and exits with status 3.
#ifndef NNHLS_DATAFLOW_H
#define NNHLS_DATAFLOW_H

#if defined(NNHLS_THREADED_DATAFLOW) && !defined(__SYNTHESIS__)

#include "hls_stream.h"

#ifndef NNHLS_HLS_STREAM_H
#error "NNHLS_THREADED_DATAFLOW needs nnhls's own hls_stream.h (in the project's ap_types), not the vendor's"
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace nnhls {
namespace dataflow_sim {

// A stage's call as the report names it: template arguments are the kernel's types and
// configuration, long and the same for every layer, while the stream arguments tell layers apart.
inline std::string call_name(const char* call) {
  std::string name;
  int angle = 0;
  const char* c = call;
  for (; *c && *c != '('; c++) {
    if (*c == '<') angle++;
    if (angle == 0) name += *c;
    if (*c == '>') angle--;
  }
  return name + c;
}

// A positive whole number from the environment variable `variable`, or `otherwise` when unset.
inline unsigned long environment_number(const char* variable, unsigned long otherwise) {
  const char* text = std::getenv(variable);
  if (!text || !*text) return otherwise;
  char* end = nullptr;
  const unsigned long value = std::strtoul(text, &end, 10);
  if (*end || value == 0) {
    std::fprintf(stderr, "%s=%s: expected a positive whole number\n", variable, text);
    std::_Exit(2);
  }
  return value;
}

// Stops the program when no packet has moved for the timeout while stages run: a stage that
// polls empty() or read_nb() forever never blocks, so the exact deadlock test cannot see it.
inline void watch(std::chrono::milliseconds timeout) {
  state& s = shared();
  const std::chrono::milliseconds period =
      std::max(std::chrono::milliseconds(1), std::min(timeout / 10, std::chrono::milliseconds(500)));
  std::unique_lock<std::mutex> lock(s.mutex);
  for (;;) {
    lock.unlock();
    std::this_thread::sleep_for(period);
    lock.lock();
    if (s.stages > 0 && std::chrono::steady_clock::now() - s.last_move >= timeout) fail("stall");
  }
}

// Depths from NNHLS_FIFO_DEPTHS, and which of them a stream has used. Never destroyed, because
// the check at exit reads it.
struct depth_overrides {
  std::map<std::string, std::pair<unsigned, bool> > depths;
};

inline void report_unused_overrides();

inline depth_overrides& overrides() {
  static depth_overrides* table = [] {
    depth_overrides* parsed = new depth_overrides;
    const char* text = std::getenv("NNHLS_FIFO_DEPTHS");
    std::string entries = text ? text : "";
    std::size_t start = 0;
    while (start < entries.size()) {
      std::size_t end = entries.find(',', start);
      if (end == std::string::npos) end = entries.size();
      const std::string entry = entries.substr(start, end - start);
      const std::size_t equals = entry.find('=');
      char* rest = nullptr;
      const unsigned long depth =
          equals == std::string::npos ? 0 : std::strtoul(entry.c_str() + equals + 1, &rest, 10);
      if (equals == 0 || equals == std::string::npos || equals + 1 == entry.size() || *rest) {
        std::fprintf(stderr, "NNHLS_FIFO_DEPTHS: '%s' is not name=depth (expected name=depth,name=depth)\n",
                     entry.c_str());
        std::_Exit(2);
      }
      parsed->depths[entry.substr(0, equals)] = std::make_pair(unsigned(depth), false);
      start = end + 1;
    }
    if (!parsed->depths.empty()) std::atexit(report_unused_overrides);
    return parsed;
  }();
  return *table;
}

// A misspelt name would leave the declared depth in place and let a wrong depth pass unseen.
inline void report_unused_overrides() {
  std::lock_guard<std::mutex> lock(shared().mutex);
  std::string unused;
  for (const auto& entry : overrides().depths) {
    if (!entry.second.second) unused += (unused.empty() ? "" : ", ") + entry.first;
  }
  if (!unused.empty()) {
    std::fprintf(stderr, "nnhls dataflow: NNHLS_FIFO_DEPTHS names streams without NNHLS_STREAM_DEPTH: %s\n",
                 unused.c_str());
  }
}

// NNHLS_STREAM_DEPTH: the declared depth, or the one NNHLS_FIFO_DEPTHS gives the stream's name.
template <class S>
void declare_depth(S& stream, unsigned depth) {
  depth_overrides& table = overrides();
  {
    std::lock_guard<std::mutex> lock(shared().mutex);
    const auto entry = table.depths.find(stream.name());
    if (entry != table.depths.end()) {
      depth = entry->second.first;
      entry->second.second = true;
    }
  }
  stream.set_depth(depth);
}

// NNHLS_DATAFLOW_REGION: the stages of one region, each in a thread of its own.
class region {
 public:
  explicit region(const char* function) : outer_place_(place()) {
    if (place().empty()) place() = function;
  }
  ~region() {
    join();
    place() = outer_place_;
  }
  region(const region&) = delete;
  region& operator=(const region&) = delete;

  // Runs `body` (the stage's call, `text` as written) in a new thread.
  template <class Body>
  void start(const char* text, Body body) {
    state& s = shared();
    const std::string where = place() + " / " + call_name(text);
    std::lock_guard<std::mutex> lock(s.mutex);
    // Counted before the thread exists, so that a parent which goes on to join is never the
    // last thread standing while its first stage is still starting.
    s.live++;
    s.stages++;
    running_++;
    s.last_move = std::chrono::steady_clock::now();
    if (!s.watching) {
      s.watching = true;
      const unsigned long timeout_ms = environment_number("NNHLS_DATAFLOW_TIMEOUT_MS", 20000);
      std::thread(watch, std::chrono::milliseconds(timeout_ms)).detach();
    }
    threads_.emplace_back([this, where, body]() { run(where, body); });
  }

  // NNHLS_DATAFLOW_END: waits for every stage started so far.
  void join() {
    {
      state& s = shared();
      std::unique_lock<std::mutex> lock(s.mutex);
      block(lock, {joining, nullptr, &running_, &place()});
    }
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }

 private:
  template <class Body>
  void run(const std::string& where, Body& body) {
    state& s = shared();
    place() = where;
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      s.stage_places.push_back(&place());
    }
    body();
    std::lock_guard<std::mutex> lock(s.mutex);
    s.stage_places.erase(std::find(s.stage_places.begin(), s.stage_places.end(), &place()));
    s.live--;
    s.stages--;
    running_--;
    s.changed.notify_all();
    check_deadlock();
  }

  std::string outer_place_;
  unsigned running_ = 0;  // guarded by shared().mutex
  std::vector<std::thread> threads_;
};

}  // namespace dataflow_sim
}  // namespace nnhls

#define NNHLS_DATAFLOW_REGION nnhls::dataflow_sim::region nnhls_dataflow_region_(__func__);
#define NNHLS_STAGE(...) nnhls_dataflow_region_.start(#__VA_ARGS__, [&]() { __VA_ARGS__; });
#define NNHLS_DATAFLOW_END nnhls_dataflow_region_.join();
#define NNHLS_STREAM_DEPTH(stream, depth) nnhls::dataflow_sim::declare_depth(stream, depth);

#else

#define NNHLS_DATAFLOW_REGION
#define NNHLS_STAGE(...) __VA_ARGS__;
#define NNHLS_DATAFLOW_END
#define NNHLS_STREAM_DEPTH(stream, depth)

#endif

#endif  // NNHLS_DATAFLOW_H
