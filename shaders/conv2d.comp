#version 450
// 2-D convolutions with ksize KS (1 or 3, specialisation constant 5), padding KS/2, stride 1,
// as implicit GEMMs on gemm_tile.glsl (no im2col buffer), plus the reductions of their
// gradients. Tensors are NCHW; HW = H*W; KK = KS*KS.
//   OP_CONV_FWD        Y = W X + bias:  M = Cout, N = Nimg*HW, K = Cin*KK
//   OP_CONV_BWD_DATA   dX += W~ dY:     M = Cin, N = Nimg*HW, K = Cout*KK, W~ the transposed
//                                       weights with flipped taps
//   OP_CONV_BWD_FILTER dW (+)= dY X^T:  M = Cout, N = Cin*KK, K = Nimg*HW, split over
//                                       gl_WorkGroupID.z into chunks of K; with more than one
//                                       split each writes its own partial (no atomics)
//   OP_SUM_PARTIALS    y[e] += sum over s of x[s*count + e], in a fixed order
//   OP_BIAS_GRAD       row sums of dY (N, C, P): sums over chunks of (n, p) per channel
//   OP_FLIP_WEIGHTS    W~ (Cin, Cout*KK) for OP_CONV_BWD_DATA's vec4 loads
// With TEXEL (the _texel variants, lavapipe profile with vec4 loads of A), the GEMM's A
// (binding 0) is read through a vec4 texel view and its B (binding 1) through a float one
// (DAE_VK_TEXEL_BINDING in compute/vulkan/vk_backend.h): Mesa 22.3's llvmpipe compiles a
// texel fetch to one gather, a storage-buffer load to a loop over the SIMD lanes.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

#if defined(OP_SUM_PARTIALS) || defined(OP_BIAS_GRAD) || defined(OP_FLIP_WEIGHTS)

DAE_LOCAL_SIZE_1D
DAE_BUFFER(0, y)
DAE_BUFFER_RO(1, x)

DAE_PARAMS_BEGIN
  uint count;     // partials: elements per partial; bias: channels C
  uint nsplit;    // number of partials (chunks)
  uint total;     // bias: N*P, the values summed per channel
  uint chunk;     // bias: values per chunk
  uint P;         // bias: pixels per channel and sample (1 for linear layers)
  uint cin, cout, kk;   // flip
DAE_PARAMS_END

void main() {
  uint id = dae_linear_id();
#if defined(OP_SUM_PARTIALS)
  if (id >= p.count)
    return;
  float s = 0.0;
  for (uint q = 0; q < p.nsplit; q++)
    s += x[p.base[1] + q * p.count + id];
  y[p.base[0] + id] += s;
#elif defined(OP_FLIP_WEIGHTS)
  // y (Cin, Cout*KK)[ci][co*KK + t] = x (Cout, Cin, KK)[co][ci][KK-1-t]
  if (id >= p.count)
    return;
  uint t = id % p.kk, co = (id / p.kk) % p.cout, ci = id / (p.kk * p.cout);
  y[p.base[0] + id] = x[p.base[1] + (co * p.cin + ci) * p.kk + p.kk - 1u - t];
#else
  // y = db or partials (nsplit, C); x = dY
  if (id >= p.count * p.nsplit)
    return;
  uint c = id % p.count, split = id / p.count;
  uint q0 = split * p.chunk, q1 = min(p.total, q0 + p.chunk);
  uint n = q0 / p.P, pix = q0 - n * p.P;
  float s = 0.0;
  for (uint q = q0; q < q1; q++) {
    s += x[p.base[1] + (n * p.count + c) * p.P + pix];
    pix++;
    if (pix == p.P) {
      pix = 0u;
      n++;
    }
  }
  if (p.nsplit == 1u)
    y[p.base[0] + c] += s;
  else
    y[p.base[0] + split * p.count + c] = s;
#endif
}

#else

layout(constant_id = 5) const uint KS = 3;
const uint KK = KS * KS;
const int PAD = int(KS / 2u);

DAE_PARAMS_BEGIN
  uint nimg, cin, cout, h, w, hw;
  float inv_hw, inv_w;
  uint kchunk, nsplit;        // OP_CONV_BWD_FILTER
  uint flipped;               // OP_CONV_BWD_DATA: weights already flipped (OP_FLIP_WEIGHTS)
DAE_PARAMS_END

// A4(i): vec4 i of binding 0; B(name, i): float i of binding 1, declared as name.
#ifdef TEXEL
layout(set = 0, binding = 8) uniform samplerBuffer a_texels;
layout(set = 0, binding = 9) uniform samplerBuffer b_texels;
#define A4(i) texelFetch(a_texels, int(i))
#define B(name, i) texelFetch(b_texels, int(i)).r
#else
layout(std430, set = 0, binding = 0) readonly buffer Buffer0v { vec4 a_vec4s[]; };
#define A4(i) a_vec4s[i]
#define B(name, i) name[i]
#endif

#if defined(OP_CONV_FWD) || defined(OP_CONV_BWD_DATA)

DAE_BUFFER_RO(0, Wt)
DAE_BUFFER_RO(1, T)           // X (forward) or dY (input gradient)
DAE_BUFFER(2, Out)            // Y or dX
DAE_BUFFER_RO(3, bias)

#if defined(OP_CONV_FWD)
#define ROWS p.cout
#define CB p.cin
#else
#define ROWS p.cin
#define CB p.cout
#endif

struct KInfo { uint ch, t; int dy, dx; };   // k = ch*KK + t, tap t at offset (dy, dx)
struct ColInfo { uint off; int y, x; };    // output pixel (y, x) of sample at offset off

KInfo k_info(uint k) {
  uint ch = k / KK, t = k - ch * KK, ky = t / KS;
  return KInfo(ch, t, int(ky) - PAD, int(t - ky * KS) - PAD);
}

ColInfo col_info(uint j) {
  uint n = dae_fast_div(j, p.hw, p.inv_hw), q = j - n * p.hw;
  uint y = dae_fast_div(q, p.w, p.inv_w);
  return ColInfo(p.base[1] + n * CB * p.hw, int(y), int(q - y * p.w));
}

float load_b(KInfo k, ColInfo c) {
  int yy = c.y + k.dy, xx = c.x + k.dx;
  bool inside = uint(yy) < p.h && uint(xx) < p.w;
  float v = B(T, c.off + k.ch * p.hw + (inside ? uint(yy) * p.w + uint(xx) : 0u));
  return inside ? v : 0.0;
}

#if defined(OP_CONV_FWD)
float load_a(uint i, KInfo k) { return Wt[p.base[0] + (i * p.cin + k.ch) * KK + k.t]; }
vec4 load_a4(uint i, KInfo k) { return A4((p.base[0] + (i * p.cin + k.ch) * KK + k.t) / 4u); }
#else
// Wt holds the flipped weights (Cin, Cout*KK) when p.flipped (the vec4 path), else the
// layer's own (Cout, Cin, KS, KS).
float load_a(uint i, KInfo k) {
  if (p.flipped != 0u)
    return Wt[p.base[0] + (i * p.cout + k.ch) * KK + k.t];
  return Wt[p.base[0] + (k.ch * p.cin + i) * KK + (KK - 1u - k.t)];
}
vec4 load_a4(uint i, KInfo k) { return A4((p.base[0] + (i * p.cout + k.ch) * KK + k.t) / 4u); }
#endif

#include "gemm_tile.glsl"

void main() {
  uint N = p.nimg * p.hw;
  uint i0 = gl_WorkGroupID.y * BM, j0 = gl_WorkGroupID.x * BN;
  gemm_tile(i0, j0, 0u, CB * KK, ROWS, N);
  [[unroll]] for (uint c = 0; c < TN; c++) {
    uint j = tile_col(j0, c);
    if (j >= N)
      continue;
    uint n = dae_fast_div(j, p.hw, p.inv_hw), q = j - n * p.hw;
    uint o = p.base[2] + n * ROWS * p.hw + q;
    [[unroll]] for (uint r = 0; r < TM; r++) {
      uint i = tile_row(i0, r);
      if (i < ROWS) {
        float v = acc[r * TN + c];
#if defined(OP_CONV_FWD)
        if ((EPILOGUE & EPI_BIAS) != 0u)
          v += bias[p.base[3] + i];
        if ((EPILOGUE & EPI_ACCUMULATE) != 0u)
          v += Out[o + i * p.hw];
#else
        v += Out[o + i * p.hw];
#endif
        Out[o + i * p.hw] = v;
      }
    }
  }
}

#elif defined(OP_CONV_BWD_FILTER)

DAE_BUFFER_RO(0, dY)
DAE_BUFFER_RO(1, X)
DAE_BUFFER(2, Out)            // dW (one split) or the partials (nsplit, Cout, Cin*KK)

struct KInfo { uint a_off, x_off; int y, x; };  // k = (n, pixel (y, x))
struct ColInfo { uint off; int dy, dx; };       // j = (ci, tap)

KInfo k_info(uint k) {
  uint n = dae_fast_div(k, p.hw, p.inv_hw), q = k - n * p.hw;
  uint y = dae_fast_div(q, p.w, p.inv_w);
  return KInfo(p.base[0] + n * p.cout * p.hw + q, p.base[1] + n * p.cin * p.hw, int(y),
      int(q - y * p.w));
}

ColInfo col_info(uint j) {
  uint ci = j / KK, t = j - ci * KK, ky = t / KS;
  return ColInfo(ci * p.hw, int(ky) - PAD, int(t - ky * KS) - PAD);
}

float load_a(uint i, KInfo k) { return dY[k.a_off + i * p.hw]; }
vec4 load_a4(uint i, KInfo k) { return A4((k.a_off + i * p.hw) / 4u); }

float load_b(KInfo k, ColInfo c) {
  int yy = k.y + c.dy, xx = k.x + c.dx;
  bool inside = uint(yy) < p.h && uint(xx) < p.w;
  float v = B(X, k.x_off + c.off + (inside ? uint(yy) * p.w + uint(xx) : 0u));
  return inside ? v : 0.0;
}

#include "gemm_tile.glsl"

void main() {
  uint M = p.cout, N = p.cin * KK, K = p.nimg * p.hw;
  uint split = gl_WorkGroupID.z;
  uint k0 = split * p.kchunk, k1 = min(K, k0 + p.kchunk);
  uint i0 = gl_WorkGroupID.y * BM, j0 = gl_WorkGroupID.x * BN;
  gemm_tile(i0, j0, k0, k1, M, N);
  // EPI_ACCUMULATE: one split, added to dW; without it each split stores its partial sums.
  // A constant, not a test of p.nsplit: lavapipe would run both stores under lane masks.
  bool into_dw = (EPILOGUE & EPI_ACCUMULATE) != 0u;
  uint o = p.base[2] + (into_dw ? 0u : split * M * N);
  [[unroll]] for (uint r = 0; r < TM; r++) {
    uint i = tile_row(i0, r);
    [[unroll]] for (uint c = 0; c < TN; c++) {
      uint j = tile_col(j0, c);
      if (i < M && j < N) {
        if (into_dw)
          Out[o + i * N + j] += acc[r * TN + c];
        else
          Out[o + i * N + j] = acc[r * TN + c];
      }
    }
  }
}

#endif
#endif
