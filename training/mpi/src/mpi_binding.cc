// N-API addon over the system MPI: init, ranks, allreduce-sum / broadcast / barrier with a per-collective watchdog.
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

int gWorldRank = -1;
int gWorldSize = 0;
int gLocalRank = -1;
int gLocalSize = 0;
int gThreadLevel = -1;
bool gInitialized = false;
bool gFinalized = false;
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
  void Start(bool probePeers) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (running_) return;
    if (probePeers) probe_.Open();
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

  // timeoutMs <= 0 disables the watchdog for this collective.
  void Arm(const std::string& what, uint64_t seq, double timeoutMs) {
    if (timeoutMs <= 0) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      armed_ = true;
      what_ = what;
      seq_ = seq;
      timeoutMs_ = timeoutMs;
      deadline_ = Clock::now() + std::chrono::microseconds(static_cast<int64_t>(timeoutMs * 1000.0));
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
      std::fprintf(stderr,
                   "[rank %d] MPI watchdog: %s did not complete within %.0f ms; %s; calling MPI_Abort\n",
                   gWorldRank, what.c_str(), timeoutMs,
                   laggards.empty() ? "a peer rank stopped participating or is stuck"
                                    : ("not in it: " + laggards).c_str());
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, 124);
      lock.lock();
      armed_ = false;
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::thread thread_;
  PeerProbe probe_;
  bool running_ = false;
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
  if (!gInitialized) throw Napi::Error::New(env, "MPI is not initialized: call init() first");
  if (gFinalized) throw Napi::Error::New(env, "MPI was already finalized");
}

// A raw byte/float region borrowed from a JS typed array.
struct Region {
  void* data = nullptr;
  size_t count = 0;      // elements of the MPI datatype
  MPI_Datatype type = MPI_BYTE;
};

Region Float32Region(const Napi::Env& env, const Napi::Value& value) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(env, "expected a Float32Array");
  }
  Napi::Float32Array array = value.As<Napi::Float32Array>();
  return Region{array.Data(), array.ElementLength(), MPI_FLOAT};
}

Region BytesRegion(const Napi::Env& env, const Napi::Value& value) {
  if (!value.IsTypedArray()) throw Napi::TypeError::New(env, "expected a Float32Array or Uint8Array");
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  napi_typedarray_type kind = array.TypedArrayType();
  if (kind != napi_float32_array && kind != napi_uint8_array) {
    throw Napi::TypeError::New(env, "expected a Float32Array or Uint8Array");
  }
  uint8_t* base = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  return Region{base, array.ByteLength(), MPI_BYTE};
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
  int rc = MPI_SUCCESS;
  switch (kind) {
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
    // NaN or a negative time is a caller's bug; Infinity and 0 mean no watchdog (a cast of either would be undefined).
    if (std::isnan(ms) || ms < 0) {
      throw Napi::RangeError::New(value.Env(), "timeoutMs must be a number >= 0 (0 or Infinity: no watchdog)");
    }
    args.timeoutMs = std::isinf(ms) ? 0 : ms;
  }
  return args;
}

void ThrowIfFailed(const Napi::Env& env, int rc, CollectiveKind kind) {
  if (rc != MPI_SUCCESS) {
    throw Napi::Error::New(env, std::string(KindName(kind)) + " failed: " + ErrorText(rc));
  }
}

// Runs a collective on the libuv threadpool; keeps the typed array alive until it completes.
class CollectiveWorker : public Napi::AsyncWorker {
 public:
  CollectiveWorker(Napi::Env env, CollectiveKind kind, Napi::Value buffer, Region region, int root,
                   CollectiveArgs args)
      : Napi::AsyncWorker(env, "moa-mpi-collective"),
        deferred_(Napi::Promise::Deferred::New(env)),
        kind_(kind),
        region_(region),
        root_(root),
        args_(std::move(args)) {
    if (buffer.IsObject()) bufferRef_ = Napi::Persistent(buffer.As<Napi::Object>());
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    rc_ = RunCollective(kind_, region_, root_, args_.label, args_.timeoutMs);
    gCollectiveBusy = false;
    if (rc_ != MPI_SUCCESS) SetError(std::string(KindName(kind_)) + " failed: " + ErrorText(rc_));
  }

  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference bufferRef_;
  CollectiveKind kind_;
  Region region_;
  int root_;
  CollectiveArgs args_;
  int rc_ = MPI_SUCCESS;
};

// init(): makes libmpi's symbols global (its plugins need them), then MPI_Init_thread(MULTIPLE).
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (gFinalized) throw Napi::Error::New(env, "MPI was finalized; it cannot be initialized again");
  if (gInitialized) return Napi::String::New(env, ThreadLevelName(gThreadLevel));
  if (dlopen(MOA_LIBMPI_SONAME, RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    throw Napi::Error::New(env, std::string("cannot load ") + MOA_LIBMPI_SONAME + " globally: " + dlerror());
  }
  int provided = MPI_THREAD_SINGLE;
  int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided);
  if (rc != MPI_SUCCESS) throw Napi::Error::New(env, "MPI_Init_thread failed: " + ErrorText(rc));
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &gWorldRank);
  MPI_Comm_size(MPI_COMM_WORLD, &gWorldSize);
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, gWorldRank, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &gLocalRank);
  MPI_Comm_size(node, &gLocalSize);
  MPI_Comm_free(&node);
  gThreadLevel = provided;
  gInitialized = true;
  gWatchdog.Start(provided == MPI_THREAD_MULTIPLE && gWorldSize > 1);
  return Napi::String::New(env, ThreadLevelName(provided));
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
  Region region = Float32Region(env, info[0]);
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
  Region region = Float32Region(env, info[0]);
  CollectiveArgs args = ReadCollectiveArgs(info[1]);
  ClaimCollectiveSlot(env);
  auto* worker = new CollectiveWorker(env, CollectiveKind::AllreduceSum, info[0], region, 0, std::move(args));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// broadcast(f32 | u8, root, options?)
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireReady(env);
  Region region = BytesRegion(env, info[0]);
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
  Region region = BytesRegion(env, info[0]);
  int root = ReadRoot(info, 1);
  CollectiveArgs args = ReadCollectiveArgs(info[2]);
  ClaimCollectiveSlot(env);
  auto* worker = new CollectiveWorker(env, CollectiveKind::Broadcast, info[0], region, root, std::move(args));
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

// abort(code): ends every rank of the job.
Napi::Value Abort(const Napi::CallbackInfo& info) {
  int code = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 1;
  std::fflush(stdout);
  std::fflush(stderr);
  if (gInitialized && !gFinalized) MPI_Abort(MPI_COMM_WORLD, code);
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
