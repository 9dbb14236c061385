#version 450
// Strided batched GEMM (compute/vulkan/vk_gemm.c): for batch b = gl_WorkGroupID.z,
//   C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b]  (+ bias per row or per column)
// Element (i, k) of op(A) is A[a_off + b*a_bs + i*a_rs + k*a_cs], so a transposed operand is
// only a swap of its strides; B likewise; C is row-major with leading dimension c_ld.
// Whether a bias and beta * C are added is specialisation constant EPILOGUE (gemm_tile.glsl),
// set by the host; with beta == 0 it never reads C. Tiling: gemm_tile.glsl.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DAE_BUFFER_RO(0, A)
DAE_BUFFER_RO(1, B)
DAE_BUFFER(2, C)
DAE_BUFFER_RO(3, bias)

DAE_PARAMS_BEGIN
  uint M, N, K;
  uint a_off, a_rs, a_cs, a_bs;
  uint b_off, b_rs, b_cs, b_bs;
  uint c_off, c_ld, c_bs;
  float alpha, beta;
DAE_PARAMS_END

uint a_base, b_base;

struct KInfo { uint a, b; };  // offsets of column k of op(A) and row k of op(B)
struct ColInfo { uint off; };

KInfo k_info(uint k) { return KInfo(a_base + k * p.a_cs, b_base + k * p.b_rs); }
ColInfo col_info(uint j) { return ColInfo(j * p.b_cs); }
float load_a(uint i, KInfo k) { return A[k.a + i * p.a_rs]; }
#ifdef TEXEL
// The _texel variant (lavapipe profile, vec4 loads of A): A through a vec4 texel view, B
// through a float one (see conv2d.comp). The _texel_b4 variant views B as vec4s too, for
// operands contiguous along k (b_rs == 1, offsets and b_cs multiples of 4: the host checks).
layout(set = 0, binding = 8) uniform samplerBuffer a_texels;
layout(set = 0, binding = 9) uniform samplerBuffer b_texels;
#ifdef B4
#define GEMM_LOAD_B4
vec4 load_b4(KInfo k, ColInfo c) { return texelFetch(b_texels, int((k.b + c.off) / 4u)); }
float load_b(KInfo k, ColInfo c) {
  uint i = k.b + c.off;
  return texelFetch(b_texels, int(i / 4u))[i % 4u];
}
#else
float load_b(KInfo k, ColInfo c) { return texelFetch(b_texels, int(k.b + c.off)).r; }
#endif
vec4 load_a4(uint i, KInfo k) { return texelFetch(a_texels, int((k.a + i * p.a_rs) / 4u)); }
#else
layout(std430, set = 0, binding = 0) readonly buffer Buffer0v { vec4 A4[]; };
float load_b(KInfo k, ColInfo c) { return B[k.b + c.off]; }
vec4 load_a4(uint i, KInfo k) { return A4[(k.a + i * p.a_rs) / 4u]; }
#endif

#include "gemm_tile.glsl"

void main() {
  uint z = gl_WorkGroupID.z;
  a_base = p.base[0] + p.a_off + z * p.a_bs;
  b_base = p.base[1] + p.b_off + z * p.b_bs;
  uint i0 = gl_WorkGroupID.y * BM, j0 = gl_WorkGroupID.x * BN;
  gemm_tile(i0, j0, 0u, p.K, p.M, p.N);
  uint c_base = p.base[2] + p.c_off + z * p.c_bs;
  [[unroll]] for (uint r = 0; r < TM; r++) {
    uint i = tile_row(i0, r);
    [[unroll]] for (uint c = 0; c < TN; c++) {
      uint j = tile_col(j0, c);
      if (i < p.M && j < p.N) {
        uint ci = c_base + i * p.c_ld + j;
        float v = p.alpha * acc[r * TN + c];
        if ((EPILOGUE & EPI_BIAS) != 0u)
          v += bias[p.base[3] + j];
        if ((EPILOGUE & EPI_BIAS_ROW) != 0u)
          v += bias[p.base[3] + i];
        if ((EPILOGUE & EPI_ACCUMULATE) != 0u)
          v += p.beta * C[ci];
        C[ci] = v;
      }
    }
  }
}
