// N-API addon over the system MPI: init, ranks, allreduce-sum / broadcast / barrier with a per-collective watchdog.
// Thread rules (see docs/cluster.md, "The binding"): async collectives run on a libuv threadpool thread only when
// MPI granted at least MPI_THREAD_SERIALIZED (one collective at a time, see gCollectiveBusy); the watchdog thread
// makes MPI calls (peer probe, MPI_Abort) only with MPI_THREAD_MULTIPLE, and otherwise ends the process with _exit.
#include <napi.h>
#include <mpi.h>

#include <cmath>
#include <dlfcn.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#ifndef MOA_LIBMPI_SONAME
#define MOA_LIBMPI_SONAME "libmpi.so.40"
#endif

namespace {

using Clock = std::chrono::steady_clock;

const char* ThreadLevelName(int level);

int gWorldRank = -1;
int gWorldSize = 0;
int gLocalRank = -1;
int gLocalSize = 0;
int gThreadLevel = -1;      // granted by MPI_Init_thread
int gRequestedLevel = -1;   // asked of MPI_Init_thread
bool gInitialized = false;  // MPI_Init_thread succeeded (even if a later setup step failed: see gInitError)
bool gFinalized = false;
std::string gInitError;     // a setup step after MPI_Init_thread failed: MPI is up but unusable

// Above this a finite watchdog time is clamped (about 31.7 years): deadline arithmetic stays far inside
// steady_clock's int64 nanoseconds (a larger value, cast, would overflow into a deadline in the past).
constexpr double kMaxTimeoutMs = 1e12;
// True while a collective runs (on the main thread or on a threadpool thread): only one at a time.
std::atomic<bool> gCollectiveBusy{false};
std::atomic<uint64_t> gCollectiveSeq{0};

// What this rank is doing, as told to a peer whose watchdog asks (see PeerProbe).
struct CollectiveState {
  std::mutex mutex;
  bool inCollective = false;
  uint64_t seq = 0;          // last collective entered
  std::string description;   // e.g. "allreduceSum #12 [step 12]"
};
CollectiveState gState;

// Fixed-size answer to a probe, sent as raw bytes.
struct ProbeReply {
  uint64_t seq;
  int32_t inCollective;
  char description[116];
};

// A description as it arrives in a ProbeReply (truncated to fit), for comparing with a peer's.
std::string ProbeReplyText(const std::string& description) {
  return description.substr(0, sizeof(ProbeReply::description) - 1);
}

constexpr int kProbeTag = 7001;
constexpr int kReplyTag = 7002;

// Lets a timed-out rank ask every peer what it is doing, to name the rank(s) that stopped participating.
// Runs only on the watchdog thread, over its own communicator, and only with MPI_THREAD_MULTIPLE.
class PeerProbe {
 public:
  void Open() {
    MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
    Post();
    open_ = true;
  }

  void Close() {
    if (!open_) return;
    MPI_Cancel(&request_);
    MPI_Wait(&request_, MPI_STATUS_IGNORE);
    MPI_Comm_free(&comm_);
    open_ = false;
  }

  bool IsOpen() const { return open_; }

  // Answers any probe that arrived (non-blocking).
  void Serve() {
    int arrived = 0;
    MPI_Status status;
    MPI_Test(&request_, &arrived, &status);
    if (!arrived) return;
    ProbeReply reply{};
    {
      std::lock_guard<std::mutex> lock(gState.mutex);
      reply.seq = gState.seq;
      reply.inCollective = gState.inCollective ? 1 : 0;
      std::snprintf(reply.description, sizeof(reply.description), "%s", gState.description.c_str());
    }
    MPI_Send(&reply, sizeof(reply), MPI_BYTE, status.MPI_SOURCE, kReplyTag, comm_);
    Post();
  }

  // Asks every peer for its state, waiting at most waitMs; describes those not inside collective `seq`.
  std::string DescribeLaggards(uint64_t seq, const std::string& mine, int waitMs) {
    const int size = gWorldSize;
    std::vector<ProbeReply> replies(size);
    std::vector<MPI_Request> sends(size, MPI_REQUEST_NULL), receives(size, MPI_REQUEST_NULL);
    std::vector<int> answered(size, 0);
    char ping = 1;
    for (int peer = 0; peer < size; ++peer) {
      if (peer == gWorldRank) continue;
      MPI_Irecv(&replies[peer], sizeof(ProbeReply), MPI_BYTE, peer, kReplyTag, comm_, &receives[peer]);
      MPI_Isend(&ping, 1, MPI_BYTE, peer, kProbeTag, comm_, &sends[peer]);
    }
    auto giveUp = Clock::now() + std::chrono::milliseconds(waitMs);
    int pending = size - 1;
    while (pending > 0 && Clock::now() < giveUp) {
      Serve();  // a peer that timed out too may be asking us at the same moment
      for (int peer = 0; peer < size; ++peer) {
        if (peer == gWorldRank || answered[peer]) continue;
        MPI_Test(&receives[peer], &answered[peer], MPI_STATUS_IGNORE);
        if (answered[peer]) --pending;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::string text;
    int listed = 0;
    for (int peer = 0; peer < size; ++peer) {
      if (peer == gWorldRank) continue;
      std::string state;
      if (!answered[peer]) {
        state = "no answer within " + std::to_string(waitMs) + " ms (hung or dead)";
      } else {
        ProbeReply& reply = replies[peer];
        reply.description[sizeof(reply.description) - 1] = '\0';
        if (reply.inCollective && reply.seq == seq && mine == reply.description) continue;  // waiting with us
        if (reply.inCollective) {
          state = std::string("inside ") + reply.description + (reply.seq == seq ? " (a different collective!)" : "");
        } else {
          state = std::string("not in a collective; last entered ") + (reply.description[0] ? reply.description : "none");
        }
      }
      if (++listed <= 8) text += (text.empty() ? "" : "; ") + std::string("rank ") + std::to_string(peer) + ": " + state;
    }
    if (listed > 8) text += "; and " + std::to_string(listed - 8) + " more";
    return text;
  }

 private:
  void Post() { MPI_Irecv(&ping_, 1, MPI_BYTE, MPI_ANY_SOURCE, kProbeTag, comm_, &request_); }

  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Request request_ = MPI_REQUEST_NULL;
  char ping_ = 0;
  bool open_ = false;
};

// Aborts the whole job when the collective in progress outlives its deadline, naming the peers not in it.
class Watchdog {
 public:
  // mayCallMpi: MPI granted MPI_THREAD_MULTIPLE, so this thread may call MPI (probe, MPI_Abort) while another
  // thread is inside a collective. Below that it never calls MPI and ends a timed-out process with _exit(124).
  void Start(bool mayCallMpi, bool probePeers) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (running_) return;
    mayCallMpi_ = mayCallMpi;
    if (mayCallMpi && probePeers) probe_.Open();
    running_ = true;
    stop_ = false;
    thread_ = std::thread([this] { Loop(); });
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!running_) return;
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    running_ = false;
    probe_.Close();
  }

  // timeoutMs <= 0 (or not finite) disables the watchdog for this collective; above kMaxTimeoutMs it is clamped.
  void Arm(const std::string& what, uint64_t seq, double timeoutMs) {
    if (!(timeoutMs > 0) || std::isinf(timeoutMs)) return;
    const std::chrono::duration<double, std::milli> span(std::min(timeoutMs, kMaxTimeoutMs));
    {
      std::lock_guard<std::mutex> lock(mutex_);
      armed_ = true;
      what_ = what;
      seq_ = seq;
      timeoutMs_ = timeoutMs;
      deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(span);
    }
    cv_.notify_all();
  }

  void Disarm() {
    std::lock_guard<std::mutex> lock(mutex_);
    armed_ = false;
  }

 private:
  void Loop() {
    const auto servePeriod = std::chrono::milliseconds(100);
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      if (probe_.IsOpen()) {
        lock.unlock();
        probe_.Serve();
        lock.lock();
        if (stop_) break;
      }
      auto wakeAt = Clock::now() + servePeriod;
      if (!armed_) {
        cv_.wait_until(lock, wakeAt);
        continue;
      }
      if (Clock::now() < deadline_) {
        cv_.wait_until(lock, std::min(deadline_, wakeAt));
        continue;
      }
      std::string what = what_;
      uint64_t seq = seq_;
      double timeoutMs = timeoutMs_;
      lock.unlock();
      std::string laggards = probe_.IsOpen() ? probe_.DescribeLaggards(seq, ProbeReplyText(what), 2000) : std::string();
      std::string peers = !laggards.empty() ? "not in it: " + laggards
                          : mayCallMpi_ || gWorldSize <= 1
                              ? std::string("a peer rank stopped participating or is stuck")
                              : std::string("a peer rank stopped participating or is stuck (peers not asked: that needs "
                                            "thread level multiple)");
      if (mayCallMpi_) {
        std::fprintf(stderr, "[rank %d] MPI watchdog: %s did not complete within %.0f ms; %s; calling MPI_Abort\n",
                     gWorldRank, what.c_str(), timeoutMs, peers.c_str());
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, 124);
      } else {
        // Another thread of this process is inside MPI (the collective): below MPI_THREAD_MULTIPLE a concurrent
        // MPI_Abort is erroneous. _exit needs no MPI; mpirun sees a rank exit non-zero and aborts the job.
        std::fprintf(stderr,
                     "[rank %d] MPI watchdog: %s did not complete within %.0f ms; %s; thread level %s: not calling "
                     "MPI_Abort (it would race the collective inside MPI), exiting with code 124 so that mpirun "
                     "ends the job\n",
                     gWorldRank, what.c_str(), timeoutMs, peers.c_str(), ThreadLevelName(gThreadLevel));
        std::fflush(stderr);
      }
      std::fflush(stdout);
      std::_Exit(124);  // MPI_Abort does not return; this is the fallback
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::thread thread_;
  PeerProbe probe_;
  bool running_ = false;
  bool mayCallMpi_ = false;
  bool stop_ = false;
  bool armed_ = false;
  std::string what_;
  uint64_t seq_ = 0;
  double timeoutMs_ = 0;
  Clock::time_point deadline_;
};

// Never destroyed: a rank that exits without finalize() must not hit std::terminate on a joinable thread.
Watchdog& gWatchdog = *new Watchdog();

std::string ErrorText(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, length);
}

const char* ThreadLevelName(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE: return "single";
    case MPI_THREAD_FUNNELED: return "funneled";
    case MPI_THREAD_SERIALIZED: return "serialized";
    case MPI_THREAD_MULTIPLE: return "multiple";
    default: return "unknown";
  }
}

void RequireReady(const Napi::Env& env) {
  if (gFinalized) throw Napi::Error::New(env, "MPI was already finalized");
  if (!gInitialized) throw Napi::Error::New(env, "MPI is not initialized: call init() first");
  if (!gInitError.empty()) throw Napi::Error::New(env, "MPI is unusable: init() failed: " + gInitError);
}

// Async collectives run MPI on a libuv threadpool thread: MPI must allow calls from threads other than the one
// that initialized it (SERIALIZED; gCollectiveBusy keeps it to one at a time) or concurrent calls (MULTIPLE).
void RequireThreadpoolLevel(const Napi::Env& env, const char* name) {
  if (gThreadLevel < MPI_THREAD_SERIALIZED) {
    throw Napi::Error::New(env, std::string(name) + ": MPI granted thread level " + ThreadLevelName(gThreadLevel) +
                                    ", which forbids MPI calls from a threadpool thread (needs serialized or "
                                    "multiple); use the blocking call (the JS wrapper falls back to it)");
  }
}

// A raw byte/float region borrowed from a JS typed array.
struct Region {
  void* data = nullptr;
  size_t count = 0;      // elements of the MPI datatype
  MPI_Datatype type = MPI_BYTE;
};

// A typed array's memory, checked so that MPI can use it for a whole collective (possibly on another thread).
struct Borrowed {
  Region region;
  napi_value arrayBuffer = nullptr;
  bool isArrayBuffer = false;  // false: a SharedArrayBuffer (which cannot be detached)
};

// Refuses what MPI must not be handed: wrong element types, detached buffers (transferred: length 0, memory gone)
// and buffers whose memory can change size (a resizable ArrayBuffer may shrink under an async collective).
Borrowed BorrowTypedArray(const Napi::Env& env, const Napi::Value& value, bool floatOnly, const char* name) {
  const char* expected = floatOnly ? "a Float32Array" : "a Float32Array or Uint8Array";
  if (!value.IsTypedArray()) throw Napi::TypeError::New(env, std::string(name) + ": expected " + expected);
  napi_typedarray_type kind;
  size_t length = 0;
  void* data = nullptr;
  napi_value arrayBuffer = nullptr;
  size_t byteOffset = 0;
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, value, &kind, &length, &data, &arrayBuffer, &byteOffset),
                       Borrowed());
  if (kind != napi_float32_array && (floatOnly || kind != napi_uint8_array)) {
    throw Napi::TypeError::New(env, std::string(name) + ": expected " + expected);
  }
  const std::string what = std::string(name) + ": the " + (kind == napi_float32_array ? "Float32Array" : "Uint8Array");
  bool isArrayBuffer = false;
  NAPI_THROW_IF_FAILED(env, napi_is_arraybuffer(env, arrayBuffer, &isArrayBuffer), Borrowed());
  if (isArrayBuffer) {
    bool detached = false;
    NAPI_THROW_IF_FAILED(env, napi_is_detached_arraybuffer(env, arrayBuffer, &detached), Borrowed());
    if (detached) {
      throw Napi::TypeError::New(env, what + "'s ArrayBuffer is detached (transferred with postMessage, structuredClone "
                                             "or ArrayBuffer.prototype.transfer): its memory is gone");
    }
  }
  Napi::Value resizable = Napi::Object(env, arrayBuffer).Get(isArrayBuffer ? "resizable" : "growable");
  if (resizable.IsBoolean() && resizable.As<Napi::Boolean>().Value()) {
    throw Napi::TypeError::New(env, what + (isArrayBuffer ? " is backed by a resizable ArrayBuffer" : " is backed by a growable SharedArrayBuffer") +
                                        " (created with maxByteLength): refused, its memory could change size "
                                        "while MPI uses it; use a fixed-length buffer");
  }
  Borrowed borrowed;
  borrowed.arrayBuffer = arrayBuffer;
  borrowed.isArrayBuffer = isArrayBuffer;
  if (floatOnly) {
    borrowed.region = Region{data, length, MPI_FLOAT};
  } else {
    size_t elementSize = kind == napi_float32_array ? sizeof(float) : 1;
    borrowed.region = Region{data, length * elementSize, MPI_BYTE};
  }
  return borrowed;
}

// MPI counts are int: split very large buffers into INT_MAX-element chunks.
int AllreduceSumInPlace(const Region& region) {
  size_t elementSize = region.type == MPI_FLOAT ? sizeof(float) : 1;
  size_t done = 0;
  while (done < region.count) {
    size_t chunk = std::min<size_t>(region.count - done, static_cast<size_t>(INT_MAX));
    void* start = static_cast<uint8_t*>(region.data) + done * elementSize;
    int rc = MPI_Allreduce(MPI_IN_PLACE, start, static_cast<int>(chunk), region.type, MPI_SUM, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return rc;
    done += chunk;
  }
  return MPI_SUCCESS;
}

int BroadcastBytes(const Region& region, int root) {
  size_t done = 0;
  while (done < region.count) {
    size_t chunk = std::min<size_t>(region.count - done, static_cast<size_t>(INT_MAX));
    int rc = MPI_Bcast(static_cast<uint8_t*>(region.data) + done, static_cast<int>(chunk), MPI_BYTE, root,
                       MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS) return rc;
    done += chunk;
  }
  return MPI_SUCCESS;
}

enum class CollectiveKind { AllreduceSum, Broadcast, Barrier };

const char* KindName(CollectiveKind kind) {
  switch (kind) {
    case CollectiveKind::AllreduceSum: return "allreduceSum";
    case CollectiveKind::Broadcast: return "broadcast";
    case CollectiveKind::Barrier: return "barrier";
  }
  return "collective";
}

// Describes a collective for watchdog messages: name, sequence number, caller's label (e.g. "step 12").
std::string Describe(CollectiveKind kind, uint64_t seq, const std::string& label, size_t bytes) {
  std::string text = std::string(KindName(kind)) + " #" + std::to_string(seq);
  if (bytes > 0) text += " (" + std::to_string(bytes) + " bytes)";
  if (!label.empty()) text += " [" + label + "]";
  return text;
}

// Waiting without spinning. OpenMPI's blocking collectives poll its progress engine in a loop, so a rank that
// waits for a slow or stopped peer burns a whole core for as long as it waits (measured: 97-100% of a core, and
// the same with --mca mpi_yield_when_idle 1, whose sched_yield returns at once on an idle core). So every
// collective first waits for all ranks to arrive in an MPI_Ibarrier polled with MPI_Test: busily for the first
// kSpinWait (ranks that arrive together, as in a benchmark loop, pay nothing more than the barrier), then
// sleeping between tests, from kFirstSleep doubling up to kMaxSleep (at most that much latency added when the last
// rank arrives; a few microseconds of CPU per test). Then the collective itself runs at full speed, every rank
// being in it. MPI_Ibarrier and MPI_Test need no thread level beyond the one the collective is called at.
constexpr auto kSpinWait = std::chrono::milliseconds(2);
constexpr auto kFirstSleep = std::chrono::microseconds(50);
constexpr auto kMaxSleep = std::chrono::milliseconds(1);

int WaitForAllRanks() {
  if (gWorldSize <= 1) return MPI_SUCCESS;
  MPI_Request request = MPI_REQUEST_NULL;
  int rc = MPI_Ibarrier(MPI_COMM_WORLD, &request);
  if (rc != MPI_SUCCESS) return rc;
  const auto spinUntil = Clock::now() + kSpinWait;
  std::chrono::microseconds sleep = kFirstSleep;
  for (;;) {
    int done = 0;
    rc = MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS || done) return rc;
    if (Clock::now() < spinUntil) continue;
    std::this_thread::sleep_for(sleep);
    sleep = std::min<std::chrono::microseconds>(sleep * 2, kMaxSleep);
  }
}

// Runs one collective under the watchdog; returns the MPI return code.
int RunCollective(CollectiveKind kind, const Region& region, int root, const std::string& label, double timeoutMs) {
  uint64_t seq = ++gCollectiveSeq;
  size_t bytes = region.count * (region.type == MPI_FLOAT ? sizeof(float) : 1);
  std::string description = Describe(kind, seq, label, bytes);
  {
    std::lock_guard<std::mutex> lock(gState.mutex);
    gState.inCollective = true;
    gState.seq = seq;
    gState.description = description;
  }
  gWatchdog.Arm(description, seq, timeoutMs);
  int rc = WaitForAllRanks();
  if (rc == MPI_SUCCESS) switch (kind) {
    case CollectiveKind::AllreduceSum: rc = AllreduceSumInPlace(region); break;
    case CollectiveKind::Broadcast: rc = BroadcastBytes(region, root); break;
    case CollectiveKind::Barrier: rc = MPI_Barrier(MPI_COMM_WORLD); break;
  }
  gWatchdog.Disarm();
  {
    std::lock_guard<std::mutex> lock(gState.mutex);
    gState.inCollective = false;
  }
  return rc;
}

// Claims the single collective slot or throws.
void ClaimCollectiveSlot(const Napi::Env& env) {
  bool expected = false;
  if (!gCollectiveBusy.compare_exchange_strong(expected, true)) {
    throw Napi::Error::New(env, "another MPI collective is in flight: await it before starting a new one");
  }
}

struct CollectiveArgs {
  std::string label;
  double timeoutMs = 0;
};

// options object: { label?: string, timeoutMs?: number }
CollectiveArgs ReadCollectiveArgs(const Napi::Value& value) {
  CollectiveArgs args;
  if (!value.IsObject()) return args;
  Napi::Object options = value.As<Napi::Object>();
  Napi::Value label = options.Get("label");
  if (label.IsString()) args.label = label.As<Napi::String>().Utf8Value();
  Napi::Value timeout = options.Get("timeoutMs");
  if (!timeout.IsUndefined() && !timeout.IsNull()) {
    double ms = timeout.IsNumber() ? timeout.As<Napi::Number>().DoubleValue() : std::nan("");
    // NaN or a negative time is a caller's bug; Infinity and 0 mean no watchdog; huge finite times are clamped.
    if (std::isnan(ms) || ms < 0) {
      throw Napi::RangeError::New(value.Env(), "timeoutMs must be a number >= 0 (0 or Infinity: no watchdog)");
    }
    args.timeoutMs = std::isinf(ms) ? 0 : std::min(ms, kMaxTimeoutMs);
  }
  return args;
}

void ThrowIfFailed(const Napi::Env& env, int rc, CollectiveKind kind) {
  if (rc != MPI_SUCCESS) {
    throw Napi::Error::New(env, std::string(KindName(kind)) + " failed: " + ErrorText(rc));
  }
}

// Runs a collective on the libuv threadpool. Zero-copy: MPI reads and writes the caller's memory, so the typed
// array and its ArrayBuffer are held by strong references until the promise settles (the garbage collector cannot
// free them). Node-API cannot forbid a transfer (detach) meanwhile: that is the caller's contract, and a buffer
// found detached at completion rejects the promise (the result went to memory the caller gave away).
class CollectiveWorker : public Napi::AsyncWorker {
 public:
  CollectiveWorker(Napi::Env env, CollectiveKind kind, Napi::Value array, const Borrowed& borrowed, int root,
                   CollectiveArgs args)
      : Napi::AsyncWorker(env, "moa-mpi-collective"),
        deferred_(Napi::Promise::Deferred::New(env)),
        kind_(kind),
        region_(borrowed.region),
        isArrayBuffer_(borrowed.isArrayBuffer),
        root_(root),
        args_(std::move(args)) {
    arrayRef_ = Napi::Persistent(array.As<Napi::Object>());
    bufferRef_ = Napi::Persistent(Napi::Object(env, borrowed.arrayBuffer));
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    rc_ = RunCollective(kind_, region_, root_, args_.label, args_.timeoutMs);
    gCollectiveBusy = false;
    if (rc_ != MPI_SUCCESS) SetError(std::string(KindName(kind_)) + " failed: " + ErrorText(rc_));
  }

  void OnOK() override {
    bool detached = false;
    if (isArrayBuffer_ && napi_is_detached_arraybuffer(Env(), bufferRef_.Value(), &detached) == napi_ok && detached) {
      deferred_.Reject(Napi::Error::New(Env(), std::string(KindName(kind_)) +
                                                   "Async: the buffer's ArrayBuffer was detached (transferred) while "
                                                   "the collective was in flight; the result went to the transferred "
                                                   "memory. Do not transfer a buffer before its collective settles")
                           .Value());
      return;
    }
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference arrayRef_;
  Napi::ObjectReference bufferRef_;
  CollectiveKind kind_;
  Region region_;
  bool isArrayBuffer_;
  int root_;
  CollectiveArgs args_;
  int rc_ = MPI_SUCCESS;
};

// "single" | "funneled" | "serialized" | "multiple" -> MPI_THREAD_*; undefined -> MPI_THREAD_MULTIPLE.
int ParseThreadLevel(const Napi::Env& env, const Napi::Value& value) {
  if (value.IsUndefined() || value.IsNull()) return MPI_THREAD_MULTIPLE;
  std::string name = value.IsString() ? value.As<Napi::String>().Utf8Value() : std::string();
  for (int level : {MPI_THREAD_SINGLE, MPI_THREAD_FUNNELED, MPI_THREAD_SERIALIZED, MPI_THREAD_MULTIPLE}) {
    if (name == ThreadLevelName(level)) return level;
  }
  throw Napi::TypeError::New(env, "init(): threadLevel must be 'single', 'funneled', 'serialized' or 'multiple'");
}

// init(requestedLevel?): makes libmpi's symbols global (its plugins need them), then MPI_Init_thread.
// Returns the level MPI granted, which may be lower than requested: the async collectives and the watchdog
// follow the granted level. Again after a successful init: returns the granted level (idempotent), unless a
// different level is requested, which throws. After finalize: throws (MPI cannot be initialized twice).
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool explicitLevel = !info[0].IsUndefined() && !info[0].IsNull();
  const int requested = ParseThreadLevel(env, info[0]);
  if (gFinalized) {
    throw Napi::Error::New(env, "MPI was finalized; it cannot be initialized again (one MPI_Init per process)");
  }
  if (gInitialized) {
    if (!gInitError.empty()) throw Napi::Error::New(env, "MPI is unusable: init() failed: " + gInitError);
    if (explicitLevel && requested != gRequestedLevel) {
      throw Napi::Error::New(env, std::string("init(): MPI is already initialized (requested thread level ") +
                                      ThreadLevelName(gRequestedLevel) + ", granted " + ThreadLevelName(gThreadLevel) +
                                      "); it cannot be re-initialized with " + ThreadLevelName(requested));
    }
    return Napi::String::New(env, ThreadLevelName(gThreadLevel));
  }
  int flag = 0;
  if (MPI_Finalized(&flag) == MPI_SUCCESS && flag) {
    throw Napi::Error::New(env, "MPI was finalized outside this binding; it cannot be initialized again");
  }
  if (MPI_Initialized(&flag) == MPI_SUCCESS && flag) {
    throw Napi::Error::New(env, "MPI was initialized outside this binding (another addon?); init() must make the "
                                "MPI_Init_thread call itself to know the granted thread level");
  }
  if (dlopen(MOA_LIBMPI_SONAME, RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    throw Napi::Error::New(env, std::string("cannot load ") + MOA_LIBMPI_SONAME + " globally: " + dlerror());
  }
  int provided = -1;
  int rc = MPI_Init_thread(nullptr, nullptr, requested, &provided);
  if (rc != MPI_SUCCESS) throw Napi::Error::New(env, "MPI_Init_thread failed: " + ErrorText(rc));
  gInitialized = true;
  gRequestedLevel = requested;
  // Levels are ordered SINGLE < FUNNELED < SERIALIZED < MULTIPLE; anything else is treated as the lowest.
  gThreadLevel = provided >= MPI_THREAD_SINGLE && provided <= MPI_THREAD_MULTIPLE ? provided : MPI_THREAD_SINGLE;
  auto check = [&](int stepRc, const char* step) {
    if (stepRc == MPI_SUCCESS) return;
    gInitError = std::string(step) + " failed: " + ErrorText(stepRc);
    throw Napi::Error::New(env, "init(): " + gInitError);
  };
  check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(MPI_COMM_WORLD, &gWorldRank), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &gWorldSize), "MPI_Comm_size");
  MPI_Comm node = MPI_COMM_NULL;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, gWorldRank, MPI_INFO_NULL, &node),
        "MPI_Comm_split_type");
  check(MPI_Comm_rank(node, &gLocalRank), "MPI_Comm_rank(node)");
  check(MPI_Comm_size(node, &gLocalSize), "MPI_Comm_size(node)");
  check(MPI_Comm_free(&node), "MPI_Comm_free");
  const bool multiple = gThreadLevel == MPI_THREAD_MULTIPLE;
  gWatchdog.Start(multiple, multiple && gWorldSize > 1);
  return Napi::String::New(env, ThreadLevelName(gThreadLevel));
}

// threadLevel(): the level MPI granted, or null before init().
Napi::Value ThreadLevel(const Napi::CallbackInfo& info) {
  if (!gInitialized) return info.Env().Null();
  return Napi::String::New(info.Env(), ThreadLevelName(gThreadLevel));
}

// checkBuffer(name, typedArray, floatOnly): the checks a collective makes of its buffer, without running it
// (the JS wrapper calls it before queueing an async collective, so that a bad buffer throws at the call).
Napi::Value CheckBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : std::string("collective");
  BorrowTypedArray(env, info[1], info[2].ToBoolean().Value(), name.c_str());
  return env.Undefined();
}

Napi::Value Rank(const Napi::CallbackInfo& info) {
  RequireReady(info.Env());
  return Napi::Number::New(info.Env(), gWorldRank);
}

Napi::Value Size(const Napi::CallbackInfo& info) {
  RequireReady(info.Env());
  return Napi::Number::New(info.Env(), gWorldSize);
}

Napi::Value LocalRank(const Napi::CallbackInfo& info) {
  RequireReady(info.Env());
  return Napi::Number::New(info.Env(), gLocalRank);
}

Napi::Value LocalSize(const Napi::CallbackInfo& info) {
  RequireReady(info.Env());
  return Napi::Number::New(info.Env(), gLocalSize);
}

int ReadRoot(const Napi::CallbackInfo& info, size_t index) {
  Napi::Env env = info.Env();
  if (!info[index].IsNumber()) throw Napi::TypeError::New(env, "root must be a rank number");
  int root = info[index].As<Napi::Number>().Int32Value();
  if (root < 0 || root >= gWorldSize) throw Napi::RangeError::New(env, "root rank out of range");
  return root;
}

// allreduceSum(f32, options?)
Napi::Value AllreduceSum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireReady(env);
  Region region = BorrowTypedArray(env, info[0], true, "allreduceSum").region;
  CollectiveArgs args = ReadCollectiveArgs(info[1]);
  ClaimCollectiveSlot(env);
  int rc = RunCollective(CollectiveKind::AllreduceSum, region, 0, args.label, args.timeoutMs);
  gCollectiveBusy = false;
  ThrowIfFailed(env, rc, CollectiveKind::AllreduceSum);
  return env.Undefined();
}

// allreduceSumAsync(f32, options?) -> Promise<void>, on the libuv threadpool
Napi::Value AllreduceSumAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireReady(env);
  RequireThreadpoolLevel(env, "allreduceSumAsync");
  Borrowed borrowed = BorrowTypedArray(env, info[0], true, "allreduceSumAsync");
  CollectiveArgs args = ReadCollectiveArgs(info[1]);
  ClaimCollectiveSlot(env);
  auto* worker = new CollectiveWorker(env, CollectiveKind::AllreduceSum, info[0], borrowed, 0, std::move(args));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// broadcast(f32 | u8, root, options?)
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireReady(env);
  Region region = BorrowTypedArray(env, info[0], false, "broadcast").region;
  int root = ReadRoot(info, 1);
  CollectiveArgs args = ReadCollectiveArgs(info[2]);
  ClaimCollectiveSlot(env);
  int rc = RunCollective(CollectiveKind::Broadcast, region, root, args.label, args.timeoutMs);
  gCollectiveBusy = false;
  ThrowIfFailed(env, rc, CollectiveKind::Broadcast);
  return env.Undefined();
}

// broadcastAsync(f32 | u8, root, options?) -> Promise<void>
Napi::Value BroadcastAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireReady(env);
  RequireThreadpoolLevel(env, "broadcastAsync");
  Borrowed borrowed = BorrowTypedArray(env, info[0], false, "broadcastAsync");
  int root = ReadRoot(info, 1);
  CollectiveArgs args = ReadCollectiveArgs(info[2]);
  ClaimCollectiveSlot(env);
  auto* worker = new CollectiveWorker(env, CollectiveKind::Broadcast, info[0], borrowed, root, std::move(args));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// barrier(options?)
Napi::Value Barrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireReady(env);
  CollectiveArgs args = ReadCollectiveArgs(info[0]);
  ClaimCollectiveSlot(env);
  int rc = RunCollective(CollectiveKind::Barrier, Region{}, 0, args.label, args.timeoutMs);
  gCollectiveBusy = false;
  ThrowIfFailed(env, rc, CollectiveKind::Barrier);
  return env.Undefined();
}

// abort(code): ends every rank of the job. With an async collective inside MPI on a threadpool thread and a
// thread level below MULTIPLE, MPI_Abort from this thread would be a concurrent MPI call: the process exits
// instead, and mpirun, seeing a rank exit non-zero, aborts the job.
Napi::Value Abort(const Napi::CallbackInfo& info) {
  int code = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 1;
  std::fflush(stdout);
  std::fflush(stderr);
  if (gInitialized && !gFinalized) {
    if (gThreadLevel == MPI_THREAD_MULTIPLE || !gCollectiveBusy) {
      MPI_Abort(MPI_COMM_WORLD, code);
    } else {
      std::fprintf(stderr,
                   "[rank %d] abort(%d): a collective is inside MPI on another thread and the thread level is %s: "
                   "not calling MPI_Abort (it would race it), exiting so that mpirun ends the job\n",
                   gWorldRank, code, ThreadLevelName(gThreadLevel));
      std::fflush(stderr);
    }
  }
  std::_Exit(code);
}

Napi::Value Finalize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!gInitialized || gFinalized) return env.Undefined();
  if (gCollectiveBusy) throw Napi::Error::New(env, "cannot finalize while a collective is in flight");
  gWatchdog.Stop();
  int rc = MPI_Finalize();
  gFinalized = true;
  if (rc != MPI_SUCCESS) throw Napi::Error::New(env, "MPI_Finalize failed: " + ErrorText(rc));
  return env.Undefined();
}

Napi::Value IsInitialized(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), gInitialized && !gFinalized);
}

Napi::Value LibraryVersion(const Napi::CallbackInfo& info) {
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(version, &length);
  return Napi::String::New(info.Env(), std::string(version, length));
}

Napi::Object Register(Napi::Env env, Napi::Object exports) {
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("threadLevel", Napi::Function::New(env, ThreadLevel));
  exports.Set("checkBuffer", Napi::Function::New(env, CheckBuffer));
  exports.Set("rank", Napi::Function::New(env, Rank));
  exports.Set("size", Napi::Function::New(env, Size));
  exports.Set("localRank", Napi::Function::New(env, LocalRank));
  exports.Set("localSize", Napi::Function::New(env, LocalSize));
  exports.Set("allreduceSum", Napi::Function::New(env, AllreduceSum));
  exports.Set("allreduceSumAsync", Napi::Function::New(env, AllreduceSumAsync));
  exports.Set("broadcast", Napi::Function::New(env, Broadcast));
  exports.Set("broadcastAsync", Napi::Function::New(env, BroadcastAsync));
  exports.Set("barrier", Napi::Function::New(env, Barrier));
  exports.Set("abort", Napi::Function::New(env, Abort));
  exports.Set("finalize", Napi::Function::New(env, Finalize));
  exports.Set("isInitialized", Napi::Function::New(env, IsInitialized));
  exports.Set("libraryVersion", Napi::Function::New(env, LibraryVersion));
  return exports;
}

}  // namespace

NODE_API_MODULE(moa_mpi, Register)
