// N-API addon: oneDNN convolutions and GEMM, and OpenMP loops for pooling, reductions and element-wise ops,
// on float32 NHWC buffers owned by JavaScript (the trainer's TF.js backend passes its Float32Arrays in place).
// Every call runs on the caller's thread and returns when done; parallelism is OpenMP inside the call.
#include <napi.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

dnnl::engine& cpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpuStream() {
  static dnnl::stream stream(cpuEngine());
  return stream;
}

int g_threads = 1;

// ---- argument helpers ----------------------------------------------------------------------------------

float* floats(const Napi::Value& value, const char* name, size_t expected) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(value.Env(), std::string(name) + " must be a Float32Array");
  }
  auto array = value.As<Napi::Float32Array>();
  if (expected != SIZE_MAX && array.ElementLength() != expected) {
    std::ostringstream message;
    message << name << " holds " << array.ElementLength() << " floats, expected " << expected;
    throw Napi::RangeError::New(value.Env(), message.str());
  }
  return array.Data();
}

int64_t integer(const Napi::Value& value, const char* name) {
  if (!value.IsNumber()) throw Napi::TypeError::New(value.Env(), std::string(name) + " must be a number");
  double d = value.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d)) throw Napi::TypeError::New(value.Env(), std::string(name) + " must be an integer");
  return static_cast<int64_t>(d);
}

std::vector<int64_t> ints(const Napi::Value& value, const char* name, size_t count) {
  if (!value.IsArray()) throw Napi::TypeError::New(value.Env(), std::string(name) + " must be an array");
  auto array = value.As<Napi::Array>();
  if (array.Length() != count) {
    throw Napi::RangeError::New(value.Env(), std::string(name) + " must have " + std::to_string(count) + " entries");
  }
  std::vector<int64_t> out(count);
  for (uint32_t i = 0; i < count; i++) out[i] = integer(array.Get(i), name);
  return out;
}

std::string describe(const std::vector<int64_t>& dims) {
  std::ostringstream s;
  for (size_t i = 0; i < dims.size(); i++) s << (i ? "x" : "") << dims[i];
  return s.str();
}

// ---- convolutions --------------------------------------------------------------------------------------

// Geometry of one 2-D convolution in TF.js terms: x NHWC [n,h,w,ci], filter HWIO [kh,kw,ci,co], y NHWC [n,oh,ow,co].
struct ConvShape {
  int64_t n, h, w, ci, kh, kw, co, oh, ow, sh, sw, pt, pl, pb, pr;
  bool bias;
  bool relu;

  std::string key(const char* kind) const {
    std::ostringstream s;
    s << kind << ':' << n << ',' << h << ',' << w << ',' << ci << ',' << kh << ',' << kw << ',' << co << ',' << oh << ','
      << ow << ',' << sh << ',' << sw << ',' << pt << ',' << pl << ',' << pb << ',' << pr << ',' << bias << ',' << relu
      << ",t" << g_threads;
    return s.str();
  }
  memory::desc src() const { return memory::desc({n, ci, h, w}, dt::f32, tag::nhwc); }
  memory::desc dst() const { return memory::desc({n, co, oh, ow}, dt::f32, tag::nhwc); }
  memory::desc weightsAny() const { return memory::desc({co, ci, kh, kw}, dt::f32, tag::any); }
  memory::desc weightsHwio() const { return memory::desc({co, ci, kh, kw}, dt::f32, tag::hwio); }
  memory::desc biasDesc() const { return memory::desc({co}, dt::f32, tag::x); }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims padL() const { return {pt, pl}; }
  memory::dims padR() const { return {pb, pr}; }
  size_t xSize() const { return static_cast<size_t>(n * h * w * ci); }
  size_t ySize() const { return static_cast<size_t>(n * oh * ow * co); }
  size_t wSize() const { return static_cast<size_t>(kh * kw * ci * co); }
};

ConvShape readConvShape(const Napi::CallbackInfo& info, size_t at) {
  // at: xShape [n,h,w,ci], filterShape [kh,kw,ci,co], outShape [n,oh,ow,co], strides [sh,sw], pads [t,l,b,r]
  auto x = ints(info[at], "xShape", 4);
  auto f = ints(info[at + 1], "filterShape", 4);
  auto y = ints(info[at + 2], "outShape", 4);
  auto s = ints(info[at + 3], "strides", 2);
  auto p = ints(info[at + 4], "pads", 4);
  if (x[3] != f[2] || y[3] != f[3] || x[0] != y[0]) {
    throw Napi::RangeError::New(info.Env(), "conv shapes disagree: x " + describe(x) + ", filter " + describe(f) + ", out " + describe(y));
  }
  for (auto v : x) if (v < 1) throw Napi::RangeError::New(info.Env(), "xShape entries must be positive");
  for (auto v : f) if (v < 1) throw Napi::RangeError::New(info.Env(), "filterShape entries must be positive");
  for (auto v : y) if (v < 1) throw Napi::RangeError::New(info.Env(), "outShape entries must be positive");
  if (s[0] < 1 || s[1] < 1) throw Napi::RangeError::New(info.Env(), "strides must be positive");
  ConvShape c{x[0], x[1], x[2], x[3], f[0], f[1], f[3], y[1], y[2], s[0], s[1], p[0], p[1], p[2], p[3], false, false};
  // oneDNN's right/bottom padding is whatever makes the output size come out; TF.js may report 0 where it is negative.
  c.pb = (c.oh - 1) * c.sh + c.kh - c.h - c.pt;
  c.pr = (c.ow - 1) * c.sw + c.kw - c.w - c.pl;
  return c;
}

struct ConvPrimitive {
  std::string impl;
  memory::desc weights;  // the layout the primitive wants its (diff_)weights in
  dnnl::primitive primitive;
  std::unique_ptr<dnnl::reorder> weightsReorder;  // user HWIO <-> primitive layout, when they differ
  std::vector<float> weightsScratch;              // staging for the reordered weights
};

std::mutex g_cacheMutex;
std::map<std::string, std::unique_ptr<ConvPrimitive>> g_convCache;
std::map<std::string, std::string> g_implByShape;  // kind + shape -> impl_info_str, for benchmarks

dnnl::convolution_forward::primitive_desc forwardDesc(const ConvShape& c, bool training) {
  auto prop = training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  dnnl::primitive_attr attr;
  if (c.relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
  }
  auto desc = c.bias ? dnnl::convolution_forward::desc(prop, dnnl::algorithm::convolution_direct, c.src(), c.weightsAny(), c.biasDesc(),
                                                       c.dst(), c.strides(), c.padL(), c.padR())
                     : dnnl::convolution_forward::desc(prop, dnnl::algorithm::convolution_direct, c.src(), c.weightsAny(), c.dst(),
                                                       c.strides(), c.padL(), c.padR());
  return dnnl::convolution_forward::primitive_desc(desc, attr, cpuEngine());
}

// The forward primitive a backward one is derived from (oneDNN's "hint"): the same convolution, no bias or ReLU.
dnnl::convolution_forward::primitive_desc forwardHint(const ConvShape& c) {
  ConvShape plain = c;
  plain.bias = false;
  plain.relu = false;
  return forwardDesc(plain, true);
}

// Records what oneDNN chose, readies the reorder between the caller's HWIO filter and the primitive's layout
// (towards the primitive for data it reads, back to HWIO for a gradient it writes), and caches the primitive.
ConvPrimitive& cache(const std::string& key, const ConvShape& c, std::unique_ptr<ConvPrimitive> p, bool weightsAreOutput) {
  if (p->weights != c.weightsHwio()) {
    memory user(c.weightsHwio(), cpuEngine(), DNNL_MEMORY_NONE);
    memory mine(p->weights, cpuEngine(), DNNL_MEMORY_NONE);
    auto pd = weightsAreOutput ? dnnl::reorder::primitive_desc(mine, user) : dnnl::reorder::primitive_desc(user, mine);
    p->weightsReorder = std::make_unique<dnnl::reorder>(pd);
    p->weightsScratch.resize(p->weights.get_size() / sizeof(float));
  }
  g_implByShape[key] = p->impl;
  return *g_convCache.emplace(key, std::move(p)).first->second;
}

ConvPrimitive& forwardPrimitive(const ConvShape& c) {
  auto key = c.key("conv_fwd");
  auto found = g_convCache.find(key);
  if (found != g_convCache.end()) return *found->second;
  auto pd = forwardDesc(c, true);
  auto p = std::make_unique<ConvPrimitive>();
  p->impl = pd.impl_info_str();
  p->weights = pd.weights_desc();
  p->primitive = dnnl::convolution_forward(pd);
  return cache(key, c, std::move(p), false);
}

// A backward convolution (data or weights: both descriptors take source, weights and destination shapes in the
// same order), derived from the forward one; for the weight gradient the weights are its output.
template <typename Backward>
ConvPrimitive& backwardPrimitive(const ConvShape& c, const char* kind, bool weightsAreOutput) {
  auto key = c.key(kind);
  auto found = g_convCache.find(key);
  if (found != g_convCache.end()) return *found->second;
  typename Backward::desc desc(dnnl::algorithm::convolution_direct, c.src(), c.weightsAny(), c.dst(), c.strides(), c.padL(), c.padR());
  typename Backward::primitive_desc pd(desc, cpuEngine(), forwardHint(c));
  auto p = std::make_unique<ConvPrimitive>();
  p->impl = pd.impl_info_str();
  p->weights = pd.query_md(weightsAreOutput ? dnnl::query::diff_weights_md : dnnl::query::weights_md, 0);
  p->primitive = Backward(pd);
  return cache(key, c, std::move(p), weightsAreOutput);
}

ConvPrimitive& backwardDataPrimitive(const ConvShape& c) {
  return backwardPrimitive<dnnl::convolution_backward_data>(c, "conv_bwd_data", false);
}

ConvPrimitive& backwardWeightsPrimitive(const ConvShape& c) {
  return backwardPrimitive<dnnl::convolution_backward_weights>(c, "conv_bwd_weights", true);
}

// The filter as the primitive wants it: the caller's HWIO buffer itself, or a reordered copy.
memory weightsFor(ConvPrimitive& p, const ConvShape& c, float* hwio) {
  memory user(c.weightsHwio(), cpuEngine(), hwio);
  if (!p.weightsReorder) return user;
  memory mine(p.weights, cpuEngine(), p.weightsScratch.data());
  p.weightsReorder->execute(cpuStream(), user, mine);
  return mine;
}

template <typename Fn>
Napi::Value guarded(const Napi::CallbackInfo& info, Fn fn) {
  try {
    fn();
  } catch (const dnnl::error& e) {
    throw Napi::Error::New(info.Env(), std::string("oneDNN: ") + e.what() + " (status " + std::to_string(static_cast<int>(e.status)) + ")");
  }
  return info.Env().Undefined();
}

// conv2dForward(x, w, bias|null, out, xShape, filterShape, outShape, strides, pads, relu)
Napi::Value Conv2dForward(const Napi::CallbackInfo& info) {
  ConvShape c = readConvShape(info, 4);
  c.bias = !info[2].IsNull() && !info[2].IsUndefined();
  c.relu = info[9].ToBoolean();
  float* x = floats(info[0], "x", c.xSize());
  float* w = floats(info[1], "filter", c.wSize());
  float* b = c.bias ? floats(info[2], "bias", static_cast<size_t>(c.co)) : nullptr;
  float* y = floats(info[3], "out", c.ySize());
  return guarded(info, [&] {
    std::lock_guard<std::mutex> lock(g_cacheMutex);
    auto& p = forwardPrimitive(c);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, memory(c.src(), cpuEngine(), x)},
        {DNNL_ARG_WEIGHTS, weightsFor(p, c, w)},
        {DNNL_ARG_DST, memory(c.dst(), cpuEngine(), y)},
    };
    if (c.bias) args.emplace(DNNL_ARG_BIAS, memory(c.biasDesc(), cpuEngine(), b));
    p.primitive.execute(cpuStream(), args);
    cpuStream().wait();
  });
}

// conv2dBackwardData(dy, w, dx, -, xShape, filterShape, outShape, strides, pads)
Napi::Value Conv2dBackwardData(const Napi::CallbackInfo& info) {
  ConvShape c = readConvShape(info, 4);
  float* dy = floats(info[0], "dy", c.ySize());
  float* w = floats(info[1], "filter", c.wSize());
  float* dx = floats(info[2], "dx", c.xSize());
  return guarded(info, [&] {
    std::lock_guard<std::mutex> lock(g_cacheMutex);
    auto& p = backwardDataPrimitive(c);
    p.primitive.execute(cpuStream(), {
                                         {DNNL_ARG_DIFF_DST, memory(c.dst(), cpuEngine(), dy)},
                                         {DNNL_ARG_WEIGHTS, weightsFor(p, c, w)},
                                         {DNNL_ARG_DIFF_SRC, memory(c.src(), cpuEngine(), dx)},
                                     });
    cpuStream().wait();
  });
}

// One row band of one image, computed by one thread: a single-threaded primitive that uses the caller's scratchpad,
// so several threads can run band primitives (even the same one) at once.
struct BandPrimitive {
  std::string impl;
  memory::desc diffWeights;
  dnnl::convolution_backward_weights primitive;
  std::unique_ptr<dnnl::reorder> toHwio;  // null when oneDNN's layout is HWIO already
  memory::desc scratchpad;
  size_t scratchpadBytes = 0;
};

std::map<std::string, std::unique_ptr<BandPrimitive>> g_bandCache;

BandPrimitive& bandWeightsPrimitive(const ConvShape& band) {
  auto key = band.key("conv_bwd_weights_band");
  auto found = g_bandCache.find(key);
  if (found != g_bandCache.end()) return *found->second;
  // oneDNN sizes its thread decomposition when a primitive is created: create band primitives for one thread.
  omp_set_num_threads(1);
  auto p = std::make_unique<BandPrimitive>();
  try {
    auto hint = forwardHint(band);
    auto desc = dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, band.src(), band.weightsAny(), band.dst(),
                                                         band.strides(), band.padL(), band.padR());
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::convolution_backward_weights::primitive_desc pd(desc, attr, cpuEngine(), hint);
    p->impl = pd.impl_info_str();
    p->diffWeights = pd.diff_weights_desc();
    p->primitive = dnnl::convolution_backward_weights(pd);
    p->scratchpad = pd.scratchpad_desc();
    p->scratchpadBytes = p->scratchpad.get_size();
    if (p->diffWeights != band.weightsHwio()) {
      memory mine(p->diffWeights, cpuEngine(), DNNL_MEMORY_NONE);
      memory user(band.weightsHwio(), cpuEngine(), DNNL_MEMORY_NONE);
      p->toHwio = std::make_unique<dnnl::reorder>(dnnl::reorder::primitive_desc(mine, user));
    }
  } catch (...) {
    omp_set_num_threads(g_threads);
    throw;
  }
  omp_set_num_threads(g_threads);
  g_implByShape[key] = p->impl;
  return *g_bandCache.emplace(key, std::move(p)).first->second;
}

// The sub-convolution that produces output rows [r0, r1) of one image: its input rows, clipped to the image,
// and the padding that is left at its top and bottom.
struct Band {
  int64_t image, r0, r1, in0;
  ConvShape shape;
};

Band bandOf(const ConvShape& c, int64_t image, int64_t r0, int64_t r1) {
  int64_t first = r0 * c.sh - c.pt;  // input row under the first output row's top tap
  int64_t in0 = std::max<int64_t>(0, first);
  int64_t in1 = std::min<int64_t>(c.h, (r1 - 1) * c.sh - c.pt + c.kh);
  ConvShape b = c;
  b.n = 1;
  b.h = in1 - in0;
  b.oh = r1 - r0;
  b.pt = in0 - first;
  b.pb = (b.oh - 1) * b.sh + b.kh - b.h - b.pt;
  b.bias = false;
  b.relu = false;
  return Band{image, r0, r1, in0, b};
}

struct ThreadScratch {
  std::vector<float> sum, band, hwio;
  std::vector<uint8_t> scratchpad;
};

// conv2dBackwardWeights(x, dy, dw, -, xShape, filterShape, outShape, strides, pads)
//
// oneDNN's own threading of this primitive hardly gains from a second thread at M-CNN's shapes (16 channels:
// one channel block), so with T threads the batch's output rows are cut into T equal runs, each thread sums the
// weight gradients of its run (one band per image it touches) and the T partial sums are added in thread order:
// the same data and thread count always give the same bits.
Napi::Value Conv2dBackwardWeights(const Napi::CallbackInfo& info) {
  ConvShape c = readConvShape(info, 4);
  float* x = floats(info[0], "x", c.xSize());
  float* dy = floats(info[1], "dy", c.ySize());
  float* dw = floats(info[2], "dw", c.wSize());
  const int threads = g_threads;
  const int64_t rows = c.n * c.oh;
  if (threads == 1 || rows < 4 * threads) {
    return guarded(info, [&] {
      std::lock_guard<std::mutex> lock(g_cacheMutex);
      auto& p = backwardWeightsPrimitive(c);
      memory user(c.weightsHwio(), cpuEngine(), dw);
      memory target = p.weightsReorder ? memory(p.weights, cpuEngine(), p.weightsScratch.data()) : user;
      p.primitive.execute(cpuStream(), {
                                           {DNNL_ARG_SRC, memory(c.src(), cpuEngine(), x)},
                                           {DNNL_ARG_DIFF_DST, memory(c.dst(), cpuEngine(), dy)},
                                           {DNNL_ARG_DIFF_WEIGHTS, target},
                                       });
      if (p.weightsReorder) p.weightsReorder->execute(cpuStream(), target, user);
      cpuStream().wait();
    });
  }
  return guarded(info, [&] {
    std::lock_guard<std::mutex> lock(g_cacheMutex);
    std::vector<std::vector<Band>> work(static_cast<size_t>(threads));
    std::vector<std::vector<BandPrimitive*>> prims(static_cast<size_t>(threads));
    for (int t = 0; t < threads; t++) {
      int64_t from = rows * t / threads, to = rows * (t + 1) / threads;
      while (from < to) {
        int64_t image = from / c.oh, r0 = from % c.oh, r1 = std::min<int64_t>(c.oh, r0 + (to - from));
        work[t].push_back(bandOf(c, image, r0, r1));
        prims[t].push_back(&bandWeightsPrimitive(work[t].back().shape));
        from += r1 - r0;
      }
    }
    static std::vector<ThreadScratch> scratch;
    if (scratch.size() < static_cast<size_t>(threads)) scratch.resize(static_cast<size_t>(threads));
    const size_t wsize = c.wSize();
    std::vector<std::string> errors(static_cast<size_t>(threads));
#pragma omp parallel num_threads(threads)
    {
      int t = omp_get_thread_num();
      ThreadScratch& mine = scratch[static_cast<size_t>(t)];
      try {
        thread_local std::unique_ptr<dnnl::stream> stream;
        if (!stream) stream = std::make_unique<dnnl::stream>(cpuEngine());
        mine.sum.assign(wsize, 0.f);
        for (size_t i = 0; i < work[t].size(); i++) {
          const Band& band = work[t][i];
          BandPrimitive& p = *prims[t][i];
          mine.band.resize(p.diffWeights.get_size() / sizeof(float));
          mine.hwio.resize(wsize);
          if (mine.scratchpad.size() < p.scratchpadBytes) mine.scratchpad.resize(p.scratchpadBytes);
          memory diff(p.diffWeights, cpuEngine(), mine.band.data());
          float* xBand = x + (band.image * c.h + band.in0) * c.w * c.ci;
          float* dyBand = dy + (band.image * c.oh + band.r0) * c.ow * c.co;
          p.primitive.execute(*stream, {
                                           {DNNL_ARG_SRC, memory(band.shape.src(), cpuEngine(), xBand)},
                                           {DNNL_ARG_DIFF_DST, memory(band.shape.dst(), cpuEngine(), dyBand)},
                                           {DNNL_ARG_DIFF_WEIGHTS, diff},
                                           {DNNL_ARG_SCRATCHPAD, memory(p.scratchpad, cpuEngine(), mine.scratchpad.data())},
                                       });
          const float* hwio = mine.band.data();
          if (p.toHwio) {
            memory out(band.shape.weightsHwio(), cpuEngine(), mine.hwio.data());
            p.toHwio->execute(*stream, diff, out);
            hwio = mine.hwio.data();
          }
          stream->wait();
          for (size_t k = 0; k < wsize; k++) mine.sum[k] += hwio[k];
        }
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(t)] = e.what();
      }
    }
    for (const auto& e : errors) if (!e.empty()) throw Napi::Error::New(info.Env(), "oneDNN (weight gradient band): " + e);
    for (size_t k = 0; k < wsize; k++) {
      float s = 0.f;
      for (int t = 0; t < threads; t++) s += scratch[static_cast<size_t>(t)].sum[k];
      dw[k] = s;
    }
  });
}

// ---- matrix multiply -----------------------------------------------------------------------------------

// matmul(a, b, c, batch, m, n, k, transA, transB, aBatchStride, bBatchStride): row-major C[m,n] = op(A) op(B)
// per batch; a batch stride of 0 broadcasts that operand.
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  int64_t batch = integer(info[3], "batch"), m = integer(info[4], "m"), n = integer(info[5], "n"), k = integer(info[6], "k");
  bool ta = info[7].ToBoolean(), tb = info[8].ToBoolean();
  int64_t sa = integer(info[9], "aBatchStride"), sb = integer(info[10], "bBatchStride");
  if (batch < 1 || m < 1 || n < 1 || k < 1) throw Napi::RangeError::New(info.Env(), "matmul sizes must be positive");
  float* a = floats(info[0], "a", static_cast<size_t>(sa == 0 ? m * k : sa * batch));
  float* b = floats(info[1], "b", static_cast<size_t>(sb == 0 ? k * n : sb * batch));
  float* c = floats(info[2], "c", static_cast<size_t>(batch * m * n));
  for (int64_t i = 0; i < batch; i++) {
    auto status = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.f, a + i * sa, ta ? m : k, b + i * sb, tb ? k : n, 0.f,
                             c + i * m * n, n);
    if (status != dnnl_success) throw Napi::Error::New(info.Env(), "oneDNN sgemm failed with status " + std::to_string(status));
  }
  return info.Env().Undefined();
}

// ---- element-wise, reductions, pooling (OpenMP, static schedules: bit-identical for a given thread count) --

enum class BinaryOp { Add, Sub, Mul, Div, Max, Min };

BinaryOp binaryOp(const Napi::Env& env, const std::string& name) {
  if (name == "add") return BinaryOp::Add;
  if (name == "sub") return BinaryOp::Sub;
  if (name == "mul") return BinaryOp::Mul;
  if (name == "div") return BinaryOp::Div;
  if (name == "max") return BinaryOp::Max;
  if (name == "min") return BinaryOp::Min;
  throw Napi::TypeError::New(env, "unknown binary op " + name);
}

template <typename F>
void broadcastLoop(const float* a, size_t na, const float* b, size_t nb, float* out, size_t n, F f) {
  const int64_t count = static_cast<int64_t>(n);
  if (na == n && nb == n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count; i++) out[i] = f(a[i], b[i]);
  } else if (nb == 1) {
    const float scalar = b[0];
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count; i++) out[i] = f(a[i], scalar);
  } else if (na == 1) {
    const float scalar = a[0];
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count; i++) out[i] = f(scalar, b[i]);
  } else if (na == n) {
    // b repeats every nb elements (a bias over channels, or a scalar): rows of nb, no division per element.
    const int64_t rows = count / static_cast<int64_t>(nb), width = static_cast<int64_t>(nb);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const float* ar = a + r * width;
      float* o = out + r * width;
      for (int64_t c = 0; c < width; c++) o[c] = f(ar[c], b[c]);
    }
  } else {
    const int64_t rows = count / static_cast<int64_t>(na), width = static_cast<int64_t>(na);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const float* br = b + r * width;
      float* o = out + r * width;
      for (int64_t c = 0; c < width; c++) o[c] = f(a[c], br[c]);
    }
  }
}

// binary(op, a, b, out): out has the larger length; the shorter operand repeats along the innermost axes
// (a scalar, or a vector over the last axis such as a bias), which is how the caller checks broadcasting.
Napi::Value Binary(const Napi::CallbackInfo& info) {
  auto op = binaryOp(info.Env(), info[0].As<Napi::String>().Utf8Value());
  auto av = info[1].As<Napi::Float32Array>(), bv = info[2].As<Napi::Float32Array>(), ov = info[3].As<Napi::Float32Array>();
  floats(info[1], "a", SIZE_MAX), floats(info[2], "b", SIZE_MAX), floats(info[3], "out", SIZE_MAX);
  size_t na = av.ElementLength(), nb = bv.ElementLength(), n = ov.ElementLength();
  if (!((na == n && (nb == n || (nb > 0 && n % nb == 0))) || (nb == n && na > 0 && n % na == 0))) {
    throw Napi::RangeError::New(info.Env(), "binary: operand lengths do not broadcast to the output");
  }
  const float *a = av.Data(), *b = bv.Data();
  float* out = ov.Data();
  switch (op) {
    case BinaryOp::Add: broadcastLoop(a, na, b, nb, out, n, [](float x, float y) { return x + y; }); break;
    case BinaryOp::Sub: broadcastLoop(a, na, b, nb, out, n, [](float x, float y) { return x - y; }); break;
    case BinaryOp::Mul: broadcastLoop(a, na, b, nb, out, n, [](float x, float y) { return x * y; }); break;
    case BinaryOp::Div: broadcastLoop(a, na, b, nb, out, n, [](float x, float y) { return x / y; }); break;
    case BinaryOp::Max: broadcastLoop(a, na, b, nb, out, n, [](float x, float y) { return std::isnan(x) || std::isnan(y) ? NAN : std::max(x, y); }); break;
    case BinaryOp::Min: broadcastLoop(a, na, b, nb, out, n, [](float x, float y) { return std::isnan(x) || std::isnan(y) ? NAN : std::min(x, y); }); break;
  }
  return info.Env().Undefined();
}

// unary(op, x, out, alpha): relu, step (x > 0 ? 1 : alpha; NaN stays NaN), scale (alpha * x)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  auto name = info[0].As<Napi::String>().Utf8Value();
  auto xv = info[1].As<Napi::Float32Array>();
  float* x = floats(info[1], "x", SIZE_MAX);
  float* out = floats(info[2], "out", xv.ElementLength());
  float alpha = info[3].IsNumber() ? info[3].As<Napi::Number>().FloatValue() : 0.f;
  const int64_t n = static_cast<int64_t>(xv.ElementLength());
  if (name == "relu") {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) out[i] = std::isnan(x[i]) ? x[i] : (x[i] > 0.f ? x[i] : 0.f);
  } else if (name == "step") {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) out[i] = std::isnan(x[i]) ? NAN : (x[i] > 0.f ? 1.f : alpha);
  } else {
    throw Napi::TypeError::New(info.Env(), "unknown unary op " + name);
  }
  return info.Env().Undefined();
}

// sumRows(x, rows, cols, out): out[c] = sum_r x[r*cols + c]. Each thread sums a fixed block of rows in double
// precision; blocks are combined in order, so the result depends only on the data and the thread count.
Napi::Value SumRows(const Napi::CallbackInfo& info) {
  int64_t rows = integer(info[1], "rows"), cols = integer(info[2], "cols");
  if (rows < 1 || cols < 1) throw Napi::RangeError::New(info.Env(), "sumRows: rows and cols must be positive");
  const float* x = floats(info[0], "x", static_cast<size_t>(rows * cols));
  float* out = floats(info[3], "out", static_cast<size_t>(cols));
  int threads = std::max(1, std::min<int>(g_threads, static_cast<int>(std::min<int64_t>(rows, 1 << 20))));
  if (rows * cols < (1 << 15)) threads = 1;
  std::vector<double> partial(static_cast<size_t>(threads * cols), 0.0);
#pragma omp parallel num_threads(threads)
  {
    int t = omp_get_thread_num();
    int nt = omp_get_num_threads();
    int64_t r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
    double* acc = partial.data() + static_cast<size_t>(t) * cols;
    if (cols == 1) {
      double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      int64_t r = r0;
      for (; r + 4 <= r1; r += 4) s0 += x[r], s1 += x[r + 1], s2 += x[r + 2], s3 += x[r + 3];
      for (; r < r1; r++) s0 += x[r];
      acc[0] = (s0 + s1) + (s2 + s3);
    } else {
      for (int64_t r = r0; r < r1; r++) {
        const float* row = x + r * cols;
        for (int64_t c = 0; c < cols; c++) acc[c] += row[c];
      }
    }
  }
  for (int64_t c = 0; c < cols; c++) {
    double s = 0;
    for (int t = 0; t < threads; t++) s += partial[static_cast<size_t>(t * cols + c)];
    out[c] = static_cast<float>(s);
  }
  return info.Env().Undefined();
}

struct PoolShape {
  int64_t n, h, w, c, oh, ow, fh, fw, sh, sw, pt, pl;
};

PoolShape readPoolShape(const Napi::CallbackInfo& info, size_t at) {
  auto x = ints(info[at], "xShape", 4);
  auto o = ints(info[at + 1], "outShape", 2);
  auto f = ints(info[at + 2], "window", 2);
  auto s = ints(info[at + 3], "strides", 2);
  auto p = ints(info[at + 4], "pads", 2);
  PoolShape ps{x[0], x[1], x[2], x[3], o[0], o[1], f[0], f[1], s[0], s[1], p[0], p[1]};
  if (ps.n < 1 || ps.h < 1 || ps.w < 1 || ps.c < 1 || ps.oh < 1 || ps.ow < 1 || ps.fh < 1 || ps.fw < 1 || ps.sh < 1 || ps.sw < 1) {
    throw Napi::RangeError::New(info.Env(), "pool shapes must be positive");
  }
  return ps;
}

// Each pooling window's first maximum per channel in row-major order over its in-bounds pixels (padding never
// wins; a NaN never beats a value, as in TF.js's cpu backend): the value and its index in x (-1 if none).
struct WindowMaxima {
  std::vector<float> best;
  std::vector<int64_t> where;
  explicit WindowMaxima(int64_t channels) : best(static_cast<size_t>(channels)), where(static_cast<size_t>(channels)) {}
};

// Calls visit(maxima, outputIndex) for every window of the pool, with the window's maxima; rows of windows are
// spread over the threads (static schedule), each thread with its own scratch.
template <typename Visit>
void forEachWindowMaxima(const PoolShape& p, const float* x, Visit visit) {
  const int64_t outer = p.n * p.oh;
#pragma omp parallel
  {
    WindowMaxima m(p.c);
#pragma omp for schedule(static)
    for (int64_t no = 0; no < outer; no++) {
      int64_t b = no / p.oh, oy = no % p.oh;
      int64_t y0 = std::max<int64_t>(0, oy * p.sh - p.pt), y1 = std::min<int64_t>(p.h, oy * p.sh - p.pt + p.fh);
      for (int64_t ox = 0; ox < p.ow; ox++) {
        int64_t x0 = std::max<int64_t>(0, ox * p.sw - p.pl), x1 = std::min<int64_t>(p.w, ox * p.sw - p.pl + p.fw);
        std::fill(m.best.begin(), m.best.end(), -INFINITY);
        std::fill(m.where.begin(), m.where.end(), -1);
        for (int64_t yy = y0; yy < y1; yy++) {
          for (int64_t xx = x0; xx < x1; xx++) {
            int64_t base = ((b * p.h + yy) * p.w + xx) * p.c;
            for (int64_t k = 0; k < p.c; k++) {
              if (x[base + k] > m.best[k]) {
                m.best[k] = x[base + k];
                m.where[k] = base + k;
              }
            }
          }
        }
        visit(m, ((b * p.oh + oy) * p.ow + ox) * p.c);
      }
    }
  }
}

// maxPool(x, out, -, xShape, outShape[oh,ow], window[fh,fw], strides, pads[top,left])
Napi::Value MaxPool(const Napi::CallbackInfo& info) {
  PoolShape p = readPoolShape(info, 3);
  const float* x = floats(info[0], "x", static_cast<size_t>(p.n * p.h * p.w * p.c));
  float* y = floats(info[1], "out", static_cast<size_t>(p.n * p.oh * p.ow * p.c));
  forEachWindowMaxima(p, x, [&](const WindowMaxima& m, int64_t out) { std::memcpy(y + out, m.best.data(), sizeof(float) * p.c); });
  return info.Env().Undefined();
}

// maxPoolGrad(x, dy, dx, xShape, outShape, window, strides, pads): for windows that do not overlap (stride >=
// window), each window's first maximum (TF.js's choice, so all-zero ReLU windows agree) receives the window's dy;
// every other pixel gets 0. Windows are disjoint, so no two threads write the same pixel.
Napi::Value MaxPoolGrad(const Napi::CallbackInfo& info) {
  PoolShape p = readPoolShape(info, 3);
  if (p.sh < p.fh || p.sw < p.fw) throw Napi::RangeError::New(info.Env(), "maxPoolGrad: overlapping windows are not supported natively");
  const float* x = floats(info[0], "x", static_cast<size_t>(p.n * p.h * p.w * p.c));
  const float* dy = floats(info[1], "dy", static_cast<size_t>(p.n * p.oh * p.ow * p.c));
  float* dx = floats(info[2], "dx", static_cast<size_t>(p.n * p.h * p.w * p.c));
  const int64_t total = p.n * p.h * p.w * p.c;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < total; i++) dx[i] = 0.f;
  forEachWindowMaxima(p, x, [&](const WindowMaxima& m, int64_t out) {
    for (int64_t k = 0; k < p.c; k++) if (m.where[k] >= 0) dx[m.where[k]] += dy[out + k];
  });
  return info.Env().Undefined();
}

// sgdMomentum(w, v, g, wOut, vOut, lr, momentum, weightDecay, nesterov): the trainer's momentum SGD in one pass,
// in the same float32 operation order as its TF.js form: g' = g + wd*w; v' = m*v + g'; w' = w - lr*(nesterov ? g' + m*v' : v').
Napi::Value SgdMomentum(const Napi::CallbackInfo& info) {
  auto wv = info[0].As<Napi::Float32Array>();
  size_t n = wv.ElementLength();
  const float* w = floats(info[0], "w", n);
  const float* v = floats(info[1], "velocity", n);
  const float* g = floats(info[2], "gradient", n);
  float* wOut = floats(info[3], "wOut", n);
  float* vOut = floats(info[4], "velocityOut", n);
  const float lr = info[5].As<Napi::Number>().FloatValue();
  const float m = info[6].As<Napi::Number>().FloatValue();
  const float wd = info[7].As<Napi::Number>().FloatValue();
  const bool nesterov = info[8].ToBoolean();
  const int64_t count = static_cast<int64_t>(n);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; i++) {
    float gi = wd != 0.f ? g[i] + w[i] * wd : g[i];
    float vi = v[i] * m + gi;
    float step = nesterov ? gi + vi * m : vi;
    vOut[i] = vi;
    wOut[i] = w[i] - step * lr;
  }
  return info.Env().Undefined();
}

// ---- engine state ----------------------------------------------------------------------------------------

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int64_t n = integer(info[0], "threads");
  if (n < 1 || n > 4096) throw Napi::RangeError::New(info.Env(), "threads must be between 1 and 4096");
  std::lock_guard<std::mutex> lock(g_cacheMutex);
  g_threads = static_cast<int>(n);
  omp_set_dynamic(0);
  omp_set_num_threads(g_threads);
  return info.Env().Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), g_threads); }

Napi::Value Version(const Napi::CallbackInfo& info) {
  auto v = dnnl::version();
  std::ostringstream s;
  s << v->major << '.' << v->minor << '.' << v->patch << " (" << v->cpu_runtime << ')';
  auto isa = dnnl::get_effective_cpu_isa();
  const char* isaName = "unknown";
  switch (isa) {
    case dnnl::cpu_isa::sse41: isaName = "SSE4.1"; break;
    case dnnl::cpu_isa::avx: isaName = "AVX"; break;
    case dnnl::cpu_isa::avx2: isaName = "AVX2"; break;
    case dnnl::cpu_isa::avx512_core: isaName = "AVX-512"; break;
    case dnnl::cpu_isa::avx512_core_vnni: isaName = "AVX-512 VNNI"; break;
    case dnnl::cpu_isa::avx512_core_bf16: isaName = "AVX-512 BF16"; break;
    case dnnl::cpu_isa::avx512_core_amx: isaName = "AVX-512 AMX"; break;
    case dnnl::cpu_isa::avx2_vnni: isaName = "AVX2 VNNI"; break;
    default: break;
  }
  auto out = Napi::Object::New(info.Env());
  out.Set("onednn", std::string("oneDNN ") + s.str().substr(0, s.str().find(' ')));
  out.Set("isa", isaName);
  out.Set("ompMaxThreads", omp_get_max_threads());
  out.Set("cores", omp_get_num_procs());
  return out;
}

// Implementations oneDNN chose, by primitive and shape (e.g. "jit:avx512_core"; "ref" means a slow path).
Napi::Value Implementations(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(g_cacheMutex);
  auto out = Napi::Object::New(info.Env());
  for (const auto& [key, impl] : g_implByShape) out.Set(key, impl);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  g_threads = std::max(1, omp_get_max_threads());
  exports.Set("conv2dForward", Napi::Function::New(env, Conv2dForward));
  exports.Set("conv2dBackwardData", Napi::Function::New(env, Conv2dBackwardData));
  exports.Set("conv2dBackwardWeights", Napi::Function::New(env, Conv2dBackwardWeights));
  exports.Set("matmul", Napi::Function::New(env, Matmul));
  exports.Set("binary", Napi::Function::New(env, Binary));
  exports.Set("unary", Napi::Function::New(env, Unary));
  exports.Set("sumRows", Napi::Function::New(env, SumRows));
  exports.Set("maxPool", Napi::Function::New(env, MaxPool));
  exports.Set("maxPoolGrad", Napi::Function::New(env, MaxPoolGrad));
  exports.Set("sgdMomentum", Napi::Function::New(env, SgdMomentum));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads));
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("implementations", Napi::Function::New(env, Implementations));
  return exports;
}

}  // namespace

NODE_API_MODULE(moa_native_engine, Init)
