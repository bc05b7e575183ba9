// hls::stream for C simulation: an unbounded FIFO. A design that reads more than was written
// is a bug the hardware would show as a hang, so such a read aborts with the stream's name.
#ifndef NNHLS_HLS_STREAM_H
#define NNHLS_HLS_STREAM_H

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

#endif  // NNHLS_HLS_STREAM_H
