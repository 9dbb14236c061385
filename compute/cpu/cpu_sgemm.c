/* CPU: the backend's own single-threaded SGEMM for x86-64 CPUs with AVX2+FMA or AVX-512.
 *
 * Why: Debian 12's OpenBLAS (0.3.21) does not recognise recent CPUs and runs its SSE3
 * "Prescott" kernels there, 3-5x slower than the vector units allow (doc/performance.md,
 * "CPU backend: what it depends on"). This file makes the backend's speed independent of that
 * detection; OpenBLAS stays the path on other CPUs and when DIFFAE_SGEMM=openblas.
 *
 * The classic packed layout (Goto and van de Geijn): for each NC-wide panel of op(B) and each
 * KC-deep slice of K, the slice of op(B) is packed into NR-wide strips; for each MC-high block
 * of op(A), the block is packed into MR-high strips; a register-blocked micro-kernel then
 * computes each MR x NR tile of C over the slice with broadcast-and-FMA. Packing pads with
 * zeros, so the kernel always runs whole tiles; tiles that overhang C are written through a
 * small buffer. Sizes: the B strip (KC x NR) stays in L1 while the kernel walks down the A
 * block (MC x KC, in L2).
 *
 * With few rows of A (at most B_IN_PLACE_ROWS, e.g. a convolution's output channels) B is
 * read in place instead of packed: packing costs about as much per element as the kernel's
 * work on it there (one thread, 32 x 1024 x 288: 109 GFLOP/s packed, 141 in place; from 128
 * rows on it makes no difference).
 *
 * Every element of C sums over K in the same order (slice by slice, p ascending inside a
 * slice) whatever the shape of the call around it, so results repeat from run to run. */
#include "cpu_backend.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86_KERNELS 1
#endif

#define KC 256
#define MC 240                  /* a multiple of every MR */
#define NC 3072                 /* a multiple of every NR */
#define MR_MAX 8
#define NR_MAX 32
/* Products with at most this many rows read B in place rather than packed (sgemm_packed). */
#ifndef B_IN_PLACE_ROWS
#define B_IN_PLACE_ROWS 64
#endif
/* Products with fewer rows or columns than this go to OpenBLAS (see dae_cpu_sgemm_one). */
#define SMALL_SIDE 4

/* C[0..MR) x [0..NR) (ldc) = alpha sum_p a[p][i] b[p][j] + beta C; beta 0 never reads C.
 * ap: packed A strip (a[p][i] = ap[p MR + i]); bp: B rows of NR floats, ldb floats apart
 * (NR when packed). */
typedef void (*KernelFn) (int kc, const float *ap, const float *bp, size_t ldb, float *c,
    int ldc, float alpha, float beta);

typedef struct {
  const char *name;
  int mr, nr;
  KernelFn kernel;
} SgemmIsa;

/* The kernels dae_cpu_sgemm_choose picked (NULL: OpenBLAS). */
static const SgemmIsa *chosen_isa;

/* ---- micro-kernels ----------------------------------------------------------------------- */

#ifdef HAVE_X86_KERNELS

/* 8 x 32 with 16 zmm accumulators: per k, two loads of B and eight broadcasts of A feed
 * sixteen FMAs, enough independent chains to cover the FMA latency on two ports. */
__attribute__((target ("avx512f")))
static void
kernel_avx512_8x32 (int kc, const float *ap, const float *bp, size_t ldb, float *c, int ldc,
    float alpha, float beta)
{
  __m512 acc[8][2];
#pragma GCC unroll 8
  for (int i = 0; i < 8; i++)
    acc[i][0] = acc[i][1] = _mm512_setzero_ps ();
  for (int p = 0; p < kc; p++, ap += 8, bp += ldb) {
    __m512 b0 = _mm512_loadu_ps (bp), b1 = _mm512_loadu_ps (bp + 16);
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
      __m512 a = _mm512_set1_ps (ap[i]);
      acc[i][0] = _mm512_fmadd_ps (a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps (a, b1, acc[i][1]);
    }
  }
  __m512 va = _mm512_set1_ps (alpha), vb = _mm512_set1_ps (beta);
#pragma GCC unroll 8
  for (int i = 0; i < 8; i++) {
    float *ci = c + (size_t) i * ldc;
    __m512 r0 = _mm512_mul_ps (va, acc[i][0]), r1 = _mm512_mul_ps (va, acc[i][1]);
    if (beta != 0.0f) {
      r0 = _mm512_fmadd_ps (vb, _mm512_loadu_ps (ci), r0);
      r1 = _mm512_fmadd_ps (vb, _mm512_loadu_ps (ci + 16), r1);
    }
    _mm512_storeu_ps (ci, r0);
    _mm512_storeu_ps (ci + 16, r1);
  }
}

/* 6 x 16 with 12 ymm accumulators (16 registers in all: 12 + two of B + one broadcast). */
__attribute__((target ("avx2,fma")))
static void
kernel_avx2_6x16 (int kc, const float *ap, const float *bp, size_t ldb, float *c, int ldc,
    float alpha, float beta)
{
  __m256 acc[6][2];
#pragma GCC unroll 6
  for (int i = 0; i < 6; i++)
    acc[i][0] = acc[i][1] = _mm256_setzero_ps ();
  for (int p = 0; p < kc; p++, ap += 6, bp += ldb) {
    __m256 b0 = _mm256_loadu_ps (bp), b1 = _mm256_loadu_ps (bp + 8);
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
      __m256 a = _mm256_broadcast_ss (ap + i);
      acc[i][0] = _mm256_fmadd_ps (a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps (a, b1, acc[i][1]);
    }
  }
  __m256 va = _mm256_set1_ps (alpha), vb = _mm256_set1_ps (beta);
#pragma GCC unroll 6
  for (int i = 0; i < 6; i++) {
    float *ci = c + (size_t) i * ldc;
    __m256 r0 = _mm256_mul_ps (va, acc[i][0]), r1 = _mm256_mul_ps (va, acc[i][1]);
    if (beta != 0.0f) {
      r0 = _mm256_fmadd_ps (vb, _mm256_loadu_ps (ci), r0);
      r1 = _mm256_fmadd_ps (vb, _mm256_loadu_ps (ci + 8), r1);
    }
    _mm256_storeu_ps (ci, r0);
    _mm256_storeu_ps (ci + 8, r1);
  }
}

static const SgemmIsa isa_avx512 = { "avx512 8x32", 8, 32, kernel_avx512_8x32 };
static const SgemmIsa isa_avx2 = { "avx2 6x16", 6, 16, kernel_avx2_6x16 };

#endif

/* ---- packing ----------------------------------------------------------------------------- */

#ifdef HAVE_X86_KERNELS
/* dst[q][r] = src[r][q] for an 8 x 8 block (rows lds and ldd floats apart). */
__attribute__((target ("avx2")))
static void
transpose_8x8 (const float *src, size_t lds, float *dst, size_t ldd)
{
  __m256 r[8], t[8];
  for (int i = 0; i < 8; i++)
    r[i] = _mm256_loadu_ps (src + i * lds);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps (r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps (r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps (t[i], t[i + 2], _MM_SHUFFLE (1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps (t[i], t[i + 2], _MM_SHUFFLE (3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps (t[i + 1], t[i + 3], _MM_SHUFFLE (1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps (t[i + 1], t[i + 3], _MM_SHUFFLE (3, 2, 3, 2));
  }
  for (int i = 0; i < 4; i++) {
    _mm256_storeu_ps (dst + i * ldd, _mm256_permute2f128_ps (r[i], r[i + 4], 0x20));
    _mm256_storeu_ps (dst + (i + 4) * ldd, _mm256_permute2f128_ps (r[i], r[i + 4], 0x31));
  }
}
#endif

/* dst[p * stride + r] = src[r * lds + p] for rows r < rows, p < kc: `rows` rows that run along
 * K, interleaved into a packed strip (the packing of A not transposed and of B transposed).
 * Whole 8 x 8 blocks go through transpose_8x8 when the kernels run (their CPUs have AVX2):
 * the scalar loop's strided stores were most of the packing time of a convolution's weight
 * gradient. */
static void
interleave_rows (float *dst, int stride, const float *src, size_t lds, int rows, int kc)
{
  int r0 = 0, p8 = 0;
#ifdef HAVE_X86_KERNELS
  if (chosen_isa) {
    p8 = kc / 8 * 8;
    for (; r0 + 8 <= rows; r0 += 8)
      for (int p = 0; p < p8; p += 8)
        transpose_8x8 (src + r0 * lds + p, lds, dst + (size_t) p * stride + r0,
            (size_t) stride);
  }
#endif
  for (int r = 0; r < rows; r++) {
    const float *sr = src + r * lds;
    for (int p = r < r0 ? p8 : 0; p < kc; p++)
      dst[(size_t) p * stride + r] = sr[p];
  }
}

/* Rows [i0, i0 + mc) x K range [p0, p0 + kc) of op(A) into strips of mr rows: strip s holds
 * dst[s][p][i] = op(A)[i0 + s mr + i][p0 + p], rows past mc zero. */
static void
pack_a (CBLAS_TRANSPOSE ta, const float *a, int lda, int i0, int mc, int p0, int kc, int mr,
    float *dst)
{
  for (int s = 0; s < mc; s += mr, dst += (size_t) kc * mr) {
    int rows = MIN (mr, mc - s);
    if (ta == CblasNoTrans)
      interleave_rows (dst, mr, a + (size_t) (i0 + s) * lda + p0, (size_t) lda, rows, kc);
    for (int i = 0; i < mr; i++) {
      float *d = dst + i;
      if (i >= rows) {
        for (int p = 0; p < kc; p++)
          d[(size_t) p * mr] = 0.0f;
      } else if (ta == CblasTrans) {
        const float *src = a + (size_t) p0 * lda + i0 + s + i;
        for (int p = 0; p < kc; p++)
          d[(size_t) p * mr] = src[(size_t) p * lda];
      }
    }
  }
}

/* K range [p0, p0 + kc) x columns [j0, j0 + nc) of op(B) into strips of nr columns: strip s
 * holds dst[s][p][j] = op(B)[p0 + p][j0 + s nr + j], columns past nc zero. */
static void
pack_b (CBLAS_TRANSPOSE tb, const float *b, int ldb, int p0, int kc, int j0, int nc, int nr,
    float *dst)
{
  for (int s = 0; s < nc; s += nr, dst += (size_t) kc * nr) {
    int cols = MIN (nr, nc - s);
    if (tb == CblasNoTrans) {
      for (int p = 0; p < kc; p++) {
        float *d = dst + (size_t) p * nr;
        memcpy (d, b + (size_t) (p0 + p) * ldb + j0 + s, (size_t) cols * sizeof *d);
        memset (d + cols, 0, (size_t) (nr - cols) * sizeof *d);
      }
      continue;
    }
    /* op(B) = B^T: column j of the strip is row j0 + s + j of B */
    interleave_rows (dst, nr, b + (size_t) (j0 + s) * ldb + p0, (size_t) ldb, cols, kc);
    for (int j = cols; j < nr; j++)
      for (int p = 0; p < kc; p++)
        dst[(size_t) p * nr + j] = 0.0f;
  }
}

/* ---- the driver ---------------------------------------------------------------------------- */

/* C = beta C over m x n; beta 0 writes zeros (never reads C, which may hold NaN). */
static void
scale_c (int m, int n, float beta, float *c, int ldc)
{
  for (int i = 0; i < m; i++) {
    float *ci = c + (size_t) i * ldc;
    for (int j = 0; j < n; j++)
      ci[j] = beta == 0.0f ? 0.0f : beta * ci[j];
  }
}

/* Where the kernel reads one KC-deep slice of op(B): packed strips, or (B not transposed and
 * few rows of A to share the packing's cost) the rows of B in place for the whole strips,
 * with only the last, partial strip packed. */
typedef struct {
  const float *rows;            /* op(B)[pc][jc] in place, or NULL: all packed */
  size_t ld;                    /* floats between rows of `rows` */
  int in_place;                 /* columns read in place (whole strips) */
  const float *packed;          /* the packed strips (from column in_place on) */
} BSlice;

/* Strip jr of the slice and the distance between its rows. */
static const float *
b_strip (const BSlice * bs, int jr, int kc, int nr, size_t *ld)
{
  if (jr < bs->in_place) {
    *ld = bs->ld;
    return bs->rows + jr;
  }
  *ld = (size_t) nr;
  return bs->packed + (size_t) (jr - bs->in_place) * kc;
}

/* One tile: straight into C when whole, else through a buffer and copied element-wise. */
static void
run_tile (const SgemmIsa * isa, int kc, const float *ap, const float *bp, size_t ldb, float *c,
    int ldc, int rows, int cols, float alpha, float beta)
{
  if (rows == isa->mr && cols == isa->nr) {
    isa->kernel (kc, ap, bp, ldb, c, ldc, alpha, beta);
    return;
  }
  float tile[MR_MAX * NR_MAX];
  isa->kernel (kc, ap, bp, ldb, tile, isa->nr, alpha, 0.0f);
  for (int i = 0; i < rows; i++) {
    float *ci = c + (size_t) i * ldc;
    const float *ti = tile + (size_t) i * isa->nr;
    for (int j = 0; j < cols; j++)
      ci[j] = beta == 0.0f ? ti[j] : ti[j] + beta * ci[j];
  }
}

/* One packed A block times one B slice into C's block (mc x nc). */
static void
multiply_block (const SgemmIsa * isa, int mc, int nc, int kc, const float *apack,
    const BSlice * bs, float alpha, float beta, float *c, int ldc)
{
  for (int jr = 0; jr < nc; jr += isa->nr) {
    size_t ldb;
    const float *bp = b_strip (bs, jr, kc, isa->nr, &ldb);
    for (int ir = 0; ir < mc; ir += isa->mr)
      run_tile (isa, kc, apack + (size_t) ir * kc, bp, ldb, c + (size_t) ir * ldc + jr, ldc,
          MIN (isa->mr, mc - ir), MIN (isa->nr, nc - jr), alpha, beta);
  }
}

/* The slice [pc, pc + kc) x [jc, jc + nc) of op(B), packed into bpack as far as needed. */
static BSlice
slice_b (const SgemmIsa * isa, CBLAS_TRANSPOSE tb, const float *b, int ldb, int pc, int kc,
    int jc, int nc, bool in_place, float *bpack)
{
  BSlice bs = {.packed = bpack };
  if (in_place) {
    bs.rows = b + (size_t) pc * ldb + jc;
    bs.ld = (size_t) ldb;
    bs.in_place = nc / isa->nr * isa->nr;
  }
  if (bs.in_place < nc)
    pack_b (tb, b, ldb, pc, kc, jc + bs.in_place, nc - bs.in_place, isa->nr, bpack);
  return bs;
}

static bool
sgemm_packed (const SgemmIsa * isa, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n,
    int k, float alpha, const float *a, int lda, const float *b, int ldb, float beta,
    float *c, int ldc)
{
  int kc_max = MIN (KC, k);
  size_t a_floats = (size_t) MIN (MC, (m + isa->mr - 1) / isa->mr * isa->mr) * kc_max;
  size_t b_floats = (size_t) MIN (NC, (n + isa->nr - 1) / isa->nr * isa->nr) * kc_max;
  float *apack = aligned_alloc (64, (a_floats * sizeof (float) + 63) / 64 * 64);
  float *bpack = aligned_alloc (64, (b_floats * sizeof (float) + 63) / 64 * 64);
  if (!apack || !bpack) {
    free (apack);
    free (bpack);
    return false;
  }
  /* Packing B costs about as much per element as the kernel's work on it for MR x few rows
   * of A; with few rows, reading B in place (from L2, rows ldb apart) is faster. */
  bool in_place = tb == CblasNoTrans && m <= B_IN_PLACE_ROWS;
  for (int jc = 0; jc < n; jc += NC) {
    int nc = MIN (NC, n - jc);
    for (int pc = 0; pc < k; pc += KC) {
      int kc = MIN (KC, k - pc);
      BSlice bs = slice_b (isa, tb, b, ldb, pc, kc, jc, nc, in_place, bpack);
      for (int ic = 0; ic < m; ic += MC) {
        int mc = MIN (MC, m - ic);
        pack_a (ta, a, lda, ic, mc, pc, kc, isa->mr, apack);
        multiply_block (isa, mc, nc, kc, apack, &bs, alpha, pc == 0 ? beta : 1.0f,
            c + (size_t) ic * ldc + jc, ldc);
      }
    }
  }
  free (apack);
  free (bpack);
  return true;
}

/* ---- choice ------------------------------------------------------------------------------ */

const char *
dae_cpu_sgemm_choose (void)
{
  const char *want = g_getenv ("DIFFAE_SGEMM");
  chosen_isa = NULL;
  if (want && g_ascii_strcasecmp (want, "openblas") == 0)
    return "openblas";
#ifdef HAVE_X86_KERNELS
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx512f") && !(want && g_ascii_strcasecmp (want, "avx2") == 0))
    chosen_isa = &isa_avx512;
  else if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"))
    chosen_isa = &isa_avx2;
#endif
  return chosen_isa ? chosen_isa->name : "openblas";
}

void
dae_cpu_sgemm_one (CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha,
    const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
  if (m <= 0 || n <= 0)
    return;
  if (chosen_isa && (k <= 0 || alpha == 0.0f)) {
    scale_c (m, n, beta, c, ldc);
    return;
  }
  /* A matrix-vector product (one row or column, e.g. a linear layer on one sample) is
   * memory-bound: packing all of the matrix for it costs more than the product, so it
   * stays with OpenBLAS's gemv-like path. Out of memory for the packing buffers (a few MiB
   * at most): OpenBLAS too. */
  if (!chosen_isa || m < SMALL_SIDE || n < SMALL_SIDE
      || !sgemm_packed (chosen_isa, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))
    cblas_sgemm (CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
