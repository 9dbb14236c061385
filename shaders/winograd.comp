#version 450
// The transforms of a 3x3 convolution (padding 1, stride 1) by Winograd's F(m x m, 3x3),
// m = WINO_M (2 or 4): each m x m block of outputs ("tile") comes from an a x a input patch,
// a = m + 2, with a*a multiplications per input channel instead of 9 m^2, as a*a independent
// GEMMs (compute/vulkan/vk_winograd.c):
//   U[xi] (Cout, Cin) = G w G^T             OP_WINO_WEIGHTS, per (cout, cin)
//   V[xi] (T, Cin)    = B^T d B             OP_WINO_INPUT, per (tile, cin); T tiles in all
//   M[xi] (Cout, T)   = U[xi] V[xi]^T       gemm.comp, a batch of a*a
//   Y                 = A^T M A (+ bias)    OP_WINO_OUTPUT, per (cout, tile)
// with xi = a * row + column of the transformed tile; the matrices are Lavin and Gray's
// (interpolation points 0, +-1 for m = 2; 0, +-1, +-2 for m = 4; and infinity).
// Tiles are numbered n * TH * TW + ty * TW + tx, TH = ceil(H/m), TW = ceil(W/m). The grid is
// 2-D: x over tiles (over cin for the weights), y over channels (the input with TEXEL the
// other way round, see its main). V is stored tile by tile, channels contiguous, so that the
// GEMM reads it four k (channels) per texel fetch (gemm.comp's _b4 variant). With TEXEL (the
// lavapipe profile) the input and M are read through a float texel view (binding 9; with
// ROW_FETCH the input through a vec4 one): a gather where a storage-buffer load is a loop
// over the SIMD lanes; and for the same reason the weight transform takes four input
// channels per lane (their weights as vec4 texels) and so does the input transform, both
// storing vec4s, and the output one stores each row of a 4x4 tile as a vec4 where it can.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DAE_LOCAL_SIZE_1D

DAE_PARAMS_BEGIN
  uint nimg, cin, cout, h, w;
  uint th, tw, tiles;           // tiles per column and row of an image; T in all
  float inv_tw, inv_thw;        // 1 / TW, 1 / (TH * TW)
  uint tile_major;              // output: M stored (T, Cout) per position, else (Cout, T)
DAE_PARAMS_END

DAE_BUFFER(0, Out)              // U, V or Y
DAE_BUFFER_RO(1, In)            // w, X or M
DAE_BUFFER_RO(2, bias)
#if defined(TEXEL) && !defined(OP_WINO_WEIGHTS)
layout(set = 0, binding = 9) uniform samplerBuffer in_texels;
#define IN(i) texelFetch(in_texels, int(i)).r
#else
#define IN(i) In[i]
#endif

const uint M = WINO_M;
const uint A = WINO_M + 2u;
#if WINO_M == 2
const float BT[A * A] = float[](1, 0, -1, 0,  0, 1, 1, 0,  0, -1, 1, 0,  0, 1, 0, -1);
const float G[A * 3] = float[](1, 0, 0,  .5, .5, .5,  .5, -.5, .5,  0, 0, 1);
const float AT[M * A] = float[](1, 1, 1, 0,  0, 1, -1, -1);
#else
const float BT[A * A] = float[](4, 0, -5, 0, 1, 0,  0, -4, -4, 1, 1, 0,  0, 4, -4, -1, 1, 0,
    0, -2, -1, 2, 1, 0,  0, 2, -1, -2, 1, 0,  0, 4, 0, -5, 0, 1);
const float G[A * 3] = float[](1.0 / 4.0, 0, 0,  -1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0,
    -1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0,  1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0,
    1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0,  0, 0, 1);
const float AT[M * A] = float[](1, 1, 1, 1, 1, 0,  0, 1, -1, 2, -2, 0,  0, 1, 1, 4, 4, 0,
    0, 1, -1, 8, -8, 1);
#endif

// Image n, tile row ty and column tx of tile j.
uvec3 tile_pos(uint j) {
  uint n = dae_fast_div(j, p.th * p.tw, p.inv_thw), q = j - n * p.th * p.tw;
  uint ty = dae_fast_div(q, p.tw, p.inv_tw);
  return uvec3(n, ty, q - ty * p.tw);
}

uint invocation_x() { return gl_WorkGroupID.x * DAE_LOCAL_X + gl_LocalInvocationID.x; }

#if defined(OP_WINO_WEIGHTS)

// U of (co, ci) from its 3x3 weights g: G g G^T.
void weight_tile(float g[3][3], out float u[A][A]) {
  float t[A][3];
  [[unroll]] for (uint r = 0; r < A; r++)
    [[unroll]] for (uint c = 0; c < 3u; c++)
      t[r][c] = G[r * 3u] * g[0][c] + G[r * 3u + 1u] * g[1][c] + G[r * 3u + 2u] * g[2][c];
  [[unroll]] for (uint r = 0; r < A; r++)
    [[unroll]] for (uint c = 0; c < A; c++)
      u[r][c] = t[r][0] * G[c * 3u] + t[r][1] * G[c * 3u + 1u] + t[r][2] * G[c * 3u + 2u];
}

#ifdef TEXEL
// Four consecutive input channels per lane: their 36 weights as 9 vec4 texels (binding 1 is
// viewed as vec4s; Cin % 4 == 0), each transformed value of the four stored as one vec4.
layout(std430, set = 0, binding = 0) writeonly buffer Buffer0v { vec4 Out4[]; };
layout(set = 0, binding = 9) uniform samplerBuffer w_texels;

void main() {
  uint ci = 4u * invocation_x(), co = gl_WorkGroupID.y;
  if (ci >= p.cin)
    return;
  float w36[36];
  uint src = (p.base[1] + (co * p.cin + ci) * 9u) / 4u;
  [[unroll]] for (uint q = 0; q < 9u; q++) {
    vec4 v = texelFetch(w_texels, int(src + q));
    [[unroll]] for (uint e = 0; e < 4u; e++)
      w36[4u * q + e] = v[e];
  }
  float g[3][3], u[4][A][A];
  [[unroll]] for (uint k = 0; k < 4u; k++) {
    [[unroll]] for (uint r = 0; r < 3u; r++)
      [[unroll]] for (uint c = 0; c < 3u; c++)
        g[r][c] = w36[9u * k + 3u * r + c];
    weight_tile(g, u[k]);
  }
  uint stride = p.cout * p.cin, dst = p.base[0] + co * p.cin + ci;
  [[unroll]] for (uint r = 0; r < A; r++)
    [[unroll]] for (uint c = 0; c < A; c++)
      Out4[(dst + (r * A + c) * stride) / 4u] = vec4(u[0][r][c], u[1][r][c], u[2][r][c],
          u[3][r][c]);
}
#else
void main() {
  uint ci = invocation_x(), co = gl_WorkGroupID.y;
  if (ci >= p.cin)
    return;
  float g[3][3], u[A][A];
  uint src = p.base[1] + (co * p.cin + ci) * 9u;
  [[unroll]] for (uint r = 0; r < 3u; r++)
    [[unroll]] for (uint c = 0; c < 3u; c++)
      g[r][c] = In[src + r * 3u + c];
  weight_tile(g, u);
  uint stride = p.cout * p.cin, dst = p.base[0] + co * p.cin + ci;
  [[unroll]] for (uint r = 0; r < A; r++)
    [[unroll]] for (uint c = 0; c < A; c++)
      Out[dst + (r * A + c) * stride] = u[r][c];
}
#endif

#elif defined(OP_WINO_INPUT)

#ifdef ROW_FETCH
// The input through a vec4 texel view (W % 4 == 0 and the planes 4-float aligned: the host
// checks): patch row r of a 4x4 tile is columns x0 - 1 .. x0 + 4 of one image row, x0 a
// multiple of 4, so the aligned texels left of x0, at x0 and right of it hold all six: three
// fetches per row instead of six, where a fetch costs lavapipe about the same at any width.
void load_patch(uint src, int y0, int x0, out float d[A][A]) {
  uint q = uint(x0 + 1) / 4u, row_texels = p.w / 4u;
  bool has_left = q > 0u, has_right = q + 1u < row_texels;
  [[unroll]] for (int r = 0; r < int(A); r++) {
    int yy = y0 + r;
    bool inside = uint(yy) < p.h;
    uint t0 = (src / 4u) + (inside ? uint(yy) * row_texels + q : 0u);
    // every fetch stays inside the view; the selects supply the zero padding
    vec4 mid = texelFetch(in_texels, int(t0));
    float left = texelFetch(in_texels, int(has_left ? t0 - 1u : t0)).w;
    float right = texelFetch(in_texels, int(has_right ? t0 + 1u : t0)).x;
    mid = inside ? mid : vec4(0.0);
    left = inside && has_left ? left : 0.0;
    right = inside && has_right ? right : 0.0;
    d[r][0] = left;
    d[r][1] = mid.x;
    d[r][2] = mid.y;
    d[r][3] = mid.z;
    d[r][4] = mid.w;
    d[r][5] = right;
  }
}
#else
// The tile's A x A input patch from rows y0.., columns x0.. of the plane at src (zero outside
// the image).
void load_patch(uint src, int y0, int x0, out float d[A][A]) {
  [[unroll]] for (int r = 0; r < int(A); r++)
    [[unroll]] for (int c = 0; c < int(A); c++) {
      int yy = y0 + r, xx = x0 + c;
      bool inside = uint(yy) < p.h && uint(xx) < p.w;
      float x = IN(src + (inside ? uint(yy) * p.w + uint(xx) : 0u));
      d[r][c] = inside ? x : 0.0;
    }
}
#endif

// V of tile j of channel ci: B^T d B, d the tile's A x A input patch (zero outside the image).
void input_tile(uint j, uint ci, out float v[A][A]) {
  uvec3 tp = tile_pos(j);
  int y0 = int(tp.y * M) - 1, x0 = int(tp.z * M) - 1;
  uint src = p.base[1] + (tp.x * p.cin + ci) * p.h * p.w;
  float d[A][A], t[A][A];
  load_patch(src, y0, x0, d);
  [[unroll]] for (uint r = 0; r < A; r++)
    [[unroll]] for (uint c = 0; c < A; c++) {
      float s = 0.0;
      [[unroll]] for (uint k = 0; k < A; k++)
        s += BT[r * A + k] * d[k][c];
      t[r][c] = s;
    }
  [[unroll]] for (uint r = 0; r < A; r++)
    [[unroll]] for (uint c = 0; c < A; c++) {
      float s = 0.0;
      [[unroll]] for (uint k = 0; k < A; k++)
        s += t[r][k] * BT[c * A + k];
      v[r][c] = s;
    }
}

#ifdef TEXEL
// Four consecutive input channels per lane (Cin % 4 == 0 wherever Winograd runs), each
// transformed value of the four stored as one vec4. The grid: x over Cin / 4 workgroups,
// y over tiles / DAE_LOCAL_X.
layout(std430, set = 0, binding = 0) writeonly buffer Buffer0v { vec4 Out4[]; };

void main() {
  // Neighbouring lanes take neighbouring groups of channels of one tile, so that a SIMD row's
  // stores fill whole cache lines of V (a row of the grid: DAE_LOCAL_X tiles, all channels).
  uint groups = p.cin / 4u, l = invocation_x();
  uint j = gl_WorkGroupID.y * DAE_LOCAL_X + l / groups, ci = 4u * (l % groups);
  if (j >= p.tiles)
    return;
  float v0[A][A], v1[A][A], v2[A][A], v3[A][A];
  input_tile(j, ci, v0);
  input_tile(j, ci + 1u, v1);
  input_tile(j, ci + 2u, v2);
  input_tile(j, ci + 3u, v3);
  uint stride = p.tiles * p.cin, dst = p.base[0] + j * p.cin + ci;
  [[unroll]] for (uint r = 0; r < A; r++)
    [[unroll]] for (uint c = 0; c < A; c++)
      Out4[(dst + (r * A + c) * stride) / 4u] = vec4(v0[r][c], v1[r][c], v2[r][c], v3[r][c]);
}
#else
void main() {
  uint j = invocation_x(), ci = gl_WorkGroupID.y;
  if (j >= p.tiles)
    return;
  float v[A][A];
  input_tile(j, ci, v);
  uint stride = p.tiles * p.cin, dst = p.base[0] + j * p.cin + ci;
  [[unroll]] for (uint r = 0; r < A; r++)
    [[unroll]] for (uint c = 0; c < A; c++)
      Out[dst + (r * A + c) * stride] = v[r][c];
}
#endif

#elif defined(OP_WINO_OUTPUT)
#if defined(TEXEL) && WINO_M == 4
#define ROW_STORES
layout(std430, set = 0, binding = 0) buffer Buffer0v { vec4 Out4[]; };
#endif

// The output transform's options are specialisation constants, not parameters: lavapipe runs
// both sides of a branch under a lane mask, so a runtime test kept the bias load, the
// accumulating loads and the scalar stores' lane loops in every invocation.
layout(constant_id = 1) const uint EPILOGUE = 0;  // EPI_BIAS, EPI_ACCUMULATE (common.glsl)
layout(constant_id = 2) const uint STORE4 = 0;    // TEXEL: tiles whole, rows 4-float aligned

void main() {
  uint j = invocation_x(), co = gl_WorkGroupID.y;
  if (j >= p.tiles)
    return;
  uint stride = p.cout * p.tiles;
  uint src = p.base[1] + (p.tile_major != 0u ? j * p.cout + co : co * p.tiles + j);
  float m[A][A], t[M][A];
  [[unroll]] for (uint r = 0; r < A; r++)
    [[unroll]] for (uint c = 0; c < A; c++)
      m[r][c] = IN(src + (r * A + c) * stride);
  // t = A^T m (M x A), then Y = t A (M x M)
  [[unroll]] for (uint r = 0; r < M; r++)
    [[unroll]] for (uint c = 0; c < A; c++) {
      float s = 0.0;
      [[unroll]] for (uint k = 0; k < A; k++)
        s += AT[r * A + k] * m[k][c];
      t[r][c] = s;
    }
  float b = (EPILOGUE & EPI_BIAS) != 0u ? bias[p.base[2] + co] : 0.0;
  uvec3 tp = tile_pos(j);
  uint dst = p.base[0] + (tp.x * p.cout + co) * p.h * p.w;
#ifdef ROW_STORES
  if (STORE4 != 0u) {
    // every tile lies inside the image and each of its rows on a 4-float boundary: one vec4
    // store per row
    [[unroll]] for (uint r = 0; r < M; r++) {
      vec4 v;
      [[unroll]] for (uint c = 0; c < M; c++) {
        v[c] = b;
        [[unroll]] for (uint k = 0; k < A; k++)
          v[c] += t[r][k] * AT[c * A + k];
      }
      uint o = (dst + (tp.y * M + r) * p.w + tp.z * M) / 4u;
      if ((EPILOGUE & EPI_ACCUMULATE) != 0u)
        v += Out4[o];
      Out4[o] = v;
    }
    return;
  }
#endif
  [[unroll]] for (uint r = 0; r < M; r++) {
    uint yy = tp.y * M + r;
    [[unroll]] for (uint c = 0; c < M; c++) {
      uint xx = tp.z * M + c;
      if (yy < p.h && xx < p.w) {
        float v = b;
        [[unroll]] for (uint k = 0; k < A; k++)
          v += t[r][k] * AT[c * A + k];
        uint o = dst + yy * p.w + xx;
        if ((EPILOGUE & EPI_ACCUMULATE) != 0u)
          v += Out[o];
        Out[o] = v;
      }
    }
  }
}

#endif
