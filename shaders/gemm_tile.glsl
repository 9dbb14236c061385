// The GEMM tile engine shared by gemm.comp and conv2d.comp: C (M x N) = op_a (M x K) op_b (K x N)
// over one workgroup's BM x BN tile, each thread holding TM x TN accumulators.
//
// The including shader defines, before including this file:
//   struct KInfo    what a K index decodes to (shared by the A and B loads of that k)
//   struct ColInfo  what a column of B decodes to (computed once per column and thread)
//   KInfo k_info(uint k);  ColInfo col_info(uint j);
//   float load_a(uint i, KInfo k);  float load_b(KInfo k, ColInfo c);
//   vec4 load_a4(uint i, KInfo k)   A(i, k..k+3), used only when KV == 4
// and, to read B as vec4s too (B contiguous along k), defines GEMM_LOAD_B4 and
//   vec4 load_b4(KInfo k, ColInfo c)  B(k..k+3, j), used when KV == 4
// Loads are only asked for with i < M, j < N and k inside [k0, k1).
//
// Two profiles, chosen by the host through specialisation constants, one code:
//  - lavapipe (BK = 0, WM = 1): no shared memory and no barriers; the LX lanes of a
//    workgroup share their TM rows (so the A loads are the same in every lane) and each lane
//    owns TN columns, interleaved by LX; every k is loaded straight from the buffers.
//    lavapipe (Mesa 22.3) turns every buffer load, uniform or not, into a loop over the 8
//    lanes costing ~50 cycles, whatever its width: so big tiles, and with KV = 4 (the host
//    checks that A is contiguous along k, K % 4 == 0 and the offsets are 16-byte aligned) A
//    is read as vec4, four k per load; with GEMM_LOAD_B4 (B contiguous along k, as the
//    Winograd GEMMs' transformed inputs are stored) B too: one load per four k of a column.
//  - GPU (BK > 0): the workgroup stages BM x BK of A and BK x BN of B in shared memory per
//    step of BK; LX = WM * WN threads each compute TM rows (stride WM) x TN columns (stride
//    WN). Requires LX % BK == 0 and LX % BN == 0 (every thread then loads one fixed column
//    of B and one fixed k of A per step).

layout(local_size_x_id = 0, local_size_y = 1, local_size_z = 1) in;
layout(constant_id = 0) const uint LX = 8;    // threads per workgroup
layout(constant_id = 1) const uint TM = 8;    // rows per thread
layout(constant_id = 2) const uint TN = 4;    // columns per thread
layout(constant_id = 3) const uint WM = 1;    // threads along M
layout(constant_id = 4) const uint BK = 0;    // K step staged in shared memory; 0: none
// constant_id 5 is the convolution's kernel size (conv2d.comp)
layout(constant_id = 6) const uint KV = 1;    // lavapipe profile: k per load of A (1 or 4)
// What the including shader's epilogue adds to each result: EPI_* bits (common.glsl).
layout(constant_id = 7) const uint EPILOGUE = 0;

const uint WN = LX / WM;
const uint BM = WM * TM;
const uint BN = WN * TN;
const uint SA_LD = BM + 1;    // padded to spread the transposed stores over banks

shared float sA[BK * SA_LD + 1];
shared float sB[BK * BN + 1];

float acc[TM * TN];

// First row and column of this thread within its workgroup's tile.
uint tile_tm() { return gl_LocalInvocationID.x / WN; }
uint tile_tn() { return gl_LocalInvocationID.x % WN; }

void gemm_direct(uint i0, uint j0, uint k0, uint k1, uint M, uint N) {
  ColInfo cols[TN];
  [[unroll]] for (uint c = 0; c < TN; c++)
    cols[c] = col_info(min(j0 + tile_tn() + c * WN, N - 1u));
  uint rows[TM];
  [[unroll]] for (uint r = 0; r < TM; r++)
    rows[r] = min(i0 + tile_tm() + r * WM, M - 1u);
  if (KV == 4u) {
    for (uint k = k0; k < k1; k += 4u) {
      KInfo ki[4];
      float b[4][TN];
      [[unroll]] for (uint q = 0; q < 4u; q++)
        ki[q] = k_info(k + q);
#ifdef GEMM_LOAD_B4
      [[unroll]] for (uint c = 0; c < TN; c++) {
        vec4 b4 = load_b4(ki[0], cols[c]);
        b[0][c] = b4.x;
        b[1][c] = b4.y;
        b[2][c] = b4.z;
        b[3][c] = b4.w;
      }
#else
      [[unroll]] for (uint q = 0; q < 4u; q++)
        [[unroll]] for (uint c = 0; c < TN; c++)
          b[q][c] = load_b(ki[q], cols[c]);
#endif
      [[unroll]] for (uint r = 0; r < TM; r++) {
        vec4 a = load_a4(rows[r], ki[0]);
        [[unroll]] for (uint c = 0; c < TN; c++)
          acc[r * TN + c] = fma(a.w, b[3][c], fma(a.z, b[2][c], fma(a.y, b[1][c],
              fma(a.x, b[0][c], acc[r * TN + c]))));
      }
    }
    return;
  }
  for (uint k = k0; k < k1; k++) {
    KInfo ki = k_info(k);
    float b[TN];
    [[unroll]] for (uint c = 0; c < TN; c++)
      b[c] = load_b(ki, cols[c]);
    [[unroll]] for (uint r = 0; r < TM; r++) {
      float a = load_a(rows[r], ki);
      [[unroll]] for (uint c = 0; c < TN; c++)
        acc[r * TN + c] = fma(a, b[c], acc[r * TN + c]);
    }
  }
}

void gemm_shared(uint i0, uint j0, uint k0, uint k1, uint M, uint N) {
  uint tid = gl_LocalInvocationID.x;
  // This thread's part of the staging: column cb of B for k rows kb, kb + LX/BN, ...; k
  // column ka of A for rows ra, ra + LX/BK, ...
  uint cb = tid % BN, ka = tid % BK;
  uint jb = j0 + cb;
  ColInfo col = col_info(min(jb, N - 1u));
  uint tm = tile_tm(), tn = tile_tn();
  for (uint kt = k0; kt < k1; kt += BK) {
    for (uint r = tid / BK; r < BM; r += LX / BK) {
      uint i = i0 + r, k = kt + ka;
      sA[ka * SA_LD + r] = (i < M && k < k1) ? load_a(i, k_info(k)) : 0.0;
    }
    for (uint kk = tid / BN; kk < BK; kk += LX / BN) {
      uint k = kt + kk;
      sB[kk * BN + cb] = (jb < N && k < k1) ? load_b(k_info(k), col) : 0.0;
    }
    barrier();
    for (uint kk = 0; kk < BK; kk++) {
      float b[TN];
      [[unroll]] for (uint c = 0; c < TN; c++)
        b[c] = sB[kk * BN + tn + c * WN];
      [[unroll]] for (uint r = 0; r < TM; r++) {
        float a = sA[kk * SA_LD + tm + r * WM];
        [[unroll]] for (uint c = 0; c < TN; c++)
          acc[r * TN + c] = fma(a, b[c], acc[r * TN + c]);
      }
    }
    barrier();
  }
}

// Accumulates rows [i0, i0 + BM) x columns [j0, j0 + BN) over k in [k0, k1) into acc.
void gemm_tile(uint i0, uint j0, uint k0, uint k1, uint M, uint N) {
  [[unroll]] for (uint t = 0; t < TM * TN; t++)
    acc[t] = 0.0;
  if (BK == 0)
    gemm_direct(i0, j0, k0, k1, M, N);
  else
    gemm_shared(i0, j0, k0, k1, M, N);
}

// Row and column of accumulator (r, c) of this thread.
uint tile_row(uint i0, uint r) { return i0 + tile_tm() + r * WM; }
uint tile_col(uint j0, uint c) { return j0 + tile_tn() + c * WN; }
