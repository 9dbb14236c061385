/* CPU: linear layers and 2-D convolutions (ksize 1 or 3, padding k/2, stride 1).
 *
 * Everything is single-threaded sgemm calls (the built-in kernels of cpu_sgemm.c, or
 * OpenBLAS) on the backend's thread pool (see cpu_backend.h). A convolution is a GEMM over "columns", the pixels of all samples in order
 * (column j = pixel j % HW of sample j / HW), cut into blocks: a part of one sample's pixels,
 * or several whole samples when images are small (8x8, 4x4), so that every GEMM is wide
 * enough and every im2col buffer small enough to stay in cache.
 *
 *   forward   per block: col = im2col (Cin*9, cols), y = W col (+ b). Blocks run in parallel,
 *             one per thread at a time, each thread packing and multiplying its own block:
 *             one parallel region per convolution, no barrier between packing and GEMM.
 *   backward  the threads own ranges of input channels (rows c*9+tap of col and of dcol);
 *             each walks all the blocks in order: dw[:, rows] += dy col[rows]^T and
 *             dcol[rows] = W[:, rows]^T dy, then col2im of its channels into dx. No two
 *             threads write the same element, no barrier, and every sum runs in the same
 *             order whatever the number of threads.
 *
 * Too small a convolution to cut (fewer columns than a block per thread) runs as one block
 * on the calling thread, with its loops and its GEMM (cut by rows) threaded inside. A 1x1
 * convolution of a block inside one sample reads x (and writes dx) in place.
 *
 * Scratch slots: 0 im2col blocks, 1 GEMM output blocks (forward) / packed dy (backward),
 * 3 the columns of the input gradient. */
#include "cpu_backend.h"

#include <stdlib.h>
#include <string.h>

/* Floats of one thread's forward im2col block (4 MiB: wide GEMMs, so that packing the weights
 * again for each block costs little), of the backward's im2col and dcol blocks (8 MiB each,
 * shared by the threads); the columns of a block, at least and at most. */
#define FWD_BLOCK_FLOATS (1u << 20)
#define BWD_BLOCK_FLOATS (1u << 21)
#define BLOCK_COLS_MIN 64
#define BWD_SAMPLE_BLOCK_MIN_HW 256
#define BLOCK_COLS_MAX 4096

typedef struct {
  int n, cin, cout, h, w, k;
  int hw, taps;                 /* h*w, k*k */
} ConvShape;

static ConvShape
conv_shape (const DaeTensor * x, const DaeTensor * w)
{
  ConvShape sh = {
    .n = x->n, .cin = x->c, .cout = w->n, .h = x->h, .w = x->w, .k = w->h,
    .hw = x->h * x->w, .taps = w->h * w->w,
  };
  return sh;
}

/* C = op(A) op(B) + beta C, row-major (cut across the threads outside a parallel region). */
static void
sgemm (CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const float *a, int lda,
    const float *b, int ldb, float beta, float *c, int ldc)
{
  dae_cpu_sgemm (ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

/* ---- blocks of columns ------------------------------------------------------------------- */

/* Either `spb` whole samples per block (parts = 1) or each sample in `parts` blocks of `seg`
 * pixels (the last one shorter). */
typedef struct {
  int spb, parts, count;
  size_t seg, cols;             /* cols: the most columns of one block */
} Blocks;

static Blocks
make_blocks (const ConvShape * sh, size_t target, int min_count)
{
  size_t hw = (size_t) sh->hw;
  Blocks B = {.spb = 1,.parts = 1 };
  if (target < BLOCK_COLS_MIN)
    target = BLOCK_COLS_MIN;
  if (target > BLOCK_COLS_MAX)
    target = BLOCK_COLS_MAX;
  if (hw >= target)
    B.parts = (int) ((hw + target - 1) / target);
  else
    B.spb = (int) MIN ((size_t) sh->n, target / hw);
  B.count = B.parts > 1 ? sh->n * B.parts : (sh->n + B.spb - 1) / B.spb;
  if (B.spb > 1 && min_count > 1) {
    /* whole samples per block: a multiple of min_count blocks of equal size, so that no
     * thread waits for another (32 samples of 8x8 were cut 28 + 4) */
    int count = (B.count + min_count - 1) / min_count * min_count;
    B.spb = MAX (1, (sh->n + count - 1) / count);
    B.count = (sh->n + B.spb - 1) / B.spb;
  }
  if (B.count < min_count && B.parts * sh->n < min_count) {     /* cut samples */
    B.parts = (min_count + sh->n - 1) / sh->n;
    B.count = sh->n * B.parts;
  }
  B.seg = (hw + B.parts - 1) / B.parts;
  if (B.parts > 1 && B.seg >= 64)
    B.seg = (B.seg + 15) / 16 * 16;       /* whole cache lines */
  B.cols = B.parts > 1 ? B.seg : (size_t) B.spb * hw;
  return B;
}

/* Columns [*b0, *b1) of block b (empty when a rounded-up segment leaves nothing). */
static void
block_range (const Blocks * B, const ConvShape * sh, int b, size_t * b0, size_t * b1)
{
  size_t hw = (size_t) sh->hw;
  if (B->parts > 1) {
    size_t n = (size_t) (b / B->parts), lo = (size_t) (b % B->parts) * B->seg;
    *b0 = n * hw + MIN (lo, hw);
    *b1 = n * hw + MIN (lo + B->seg, hw);
  } else {
    *b0 = (size_t) b * B->spb * hw;
    *b1 = (size_t) MIN ((b + 1) * B->spb, sh->n) * hw;
  }
}

/* ---- packing ----------------------------------------------------------------------------- */

/* d[p - p0] = plane shifted by (dy, dx) with zero padding, at pixels p0..p1 of an (h, w)
 * plane: one part of one im2col row. */
static void
shifted_range (float *d, const float *src, int h, int w, int dy, int dx, size_t p0, size_t p1)
{
  for (size_t p = p0; p < p1;) {
    int y = (int) (p / w), x0 = (int) (p % w);
    int x1 = (int) MIN ((size_t) w, x0 + (p1 - p));
    float *o = d + (p - p0);
    int sy = y + dy;
    if (sy < 0 || sy >= h) {
      memset (o, 0, (size_t) (x1 - x0) * sizeof *o);
    } else {
      /* x + dx inside [0, w) for x in [va, vb) */
      int va = CLAMP (-dx, x0, x1), vb = CLAMP (w - dx, va, x1);
      for (int x = x0; x < va; x++)
        o[x - x0] = 0.0f;
      memcpy (o + (va - x0), src + (size_t) sy * w + (va + dx), (size_t) (vb - va) * sizeof *o);
      for (int x = vb; x < x1; x++)
        o[x - x0] = 0.0f;
    }
    p += (size_t) (x1 - x0);
  }
}

/* shifted_range over a whole plane (p0 = 0, p1 = h w), without its per-segment arithmetic:
 * at 8x8 and 16x16 the segments are 8-16 floats and that arithmetic (a division, clamps and
 * a memcpy call per image row) cost more than the copies. */
static void
shifted_plane (float *restrict d, const float *restrict src, int h, int w, int dy, int dx)
{
  const int va = MAX (0, -dx), vb = MIN (w, w - dx);   /* x + dx inside [0, w) */
  for (int y = 0; y < h; y++, d += w) {
    const int sy = y + dy;
    if (sy < 0 || sy >= h) {
      for (int x = 0; x < w; x++)
        d[x] = 0.0f;
      continue;
    }
    const float *s = src + (size_t) sy * w + dx;
    for (int x = 0; x < va; x++)
      d[x] = 0.0f;
    for (int x = va; x < vb; x++)
      d[x] = s[x];
    for (int x = vb; x < w; x++)
      d[x] = 0.0f;
  }
}

/* The adjoint of shifted_range: plane[y + dy][x + dx] += s[p - p0] wherever inside. */
static void
add_shifted_range (float *plane, const float *s, int h, int w, int dy, int dx, size_t p0,
    size_t p1)
{
  for (size_t p = p0; p < p1;) {
    int y = (int) (p / w), x0 = (int) (p % w);
    int x1 = (int) MIN ((size_t) w, x0 + (p1 - p));
    const float *r = s + (p - p0);
    int py = y + dy;
    if (py >= 0 && py < h) {
      int va = CLAMP (-dx, x0, x1), vb = CLAMP (w - dx, va, x1);
      float *o = plane + (size_t) py * w + (va + dx);
      for (int x = va; x < vb; x++)
        o[x - va] += r[x - x0];
    }
    p += (size_t) (x1 - x0);
  }
}

/* add_shifted_range over a whole plane (see shifted_plane). */
static void
add_shifted_plane (float *restrict plane, const float *restrict s, int h, int w, int dy, int dx)
{
  const int va = MAX (0, -dx), vb = MIN (w, w - dx);
  for (int y = 0; y < h; y++, s += w) {
    const int py = y + dy;
    if (py < 0 || py >= h)
      continue;
    float *o = plane + (size_t) py * w + dx;
    for (int x = va; x < vb; x++)
      o[x] += s[x];
  }
}

/* The samples a column range [b0, b1) touches, and its pixel range [*p0, *p1) in sample i. */
static inline void
sample_part (const ConvShape * sh, size_t b0, size_t b1, size_t i, size_t * p0, size_t * p1)
{
  size_t hw = (size_t) sh->hw, s0 = i * hw;
  *p0 = b0 > s0 ? b0 - s0 : 0;
  *p1 = b1 - s0 < hw ? b1 - s0 : hw;
}

/* What the packing loops below share: a column range b0..b1 of tensor t with `channels`
 * channels (rows of the matrix m, row stride ld), and for im2col the first row r0. */
typedef struct {
  const ConvShape *sh;
  float *m;
  const float *src;
  float *t;
  const float *b;
  size_t ld, b0, b1;
  int channels, r0;
  bool accumulate;
} Packing;

static void
im2col_rows (const void *ctx, size_t r0, size_t r1, int thread)
{
  const Packing *pk = ctx;
  const ConvShape *sh = pk->sh;
  const int pad = sh->k / 2;
  const size_t hw = (size_t) sh->hw, b0 = pk->b0, b1 = pk->b1;
  (void) thread;
  for (int r = (int) r0; r < (int) r1; r++) {
    int c = r / sh->taps, tap = r % sh->taps, dy = tap / sh->k - pad, dx = tap % sh->k - pad;
    for (size_t i = b0 / hw; i * hw < b1; i++) {
      size_t p0, p1;
      sample_part (sh, b0, b1, i, &p0, &p1);
      float *d = pk->m + (size_t) (r - pk->r0) * pk->ld + (i * hw + p0 - b0);
      const float *plane = pk->src + ((size_t) i * pk->channels + c) * hw;
      if (p0 == 0 && p1 == hw)
        shifted_plane (d, plane, sh->h, sh->w, dy, dx);
      else
        shifted_range (d, plane, sh->h, sh->w, dy, dx, p0, p1);
    }
  }
}

/* Rows r0..r1 (r = c*taps + tap) and columns b0..b1 of the im2col of t (n, channels, h, w),
 * into col (r1 - r0, ld). Threaded over rows unless inside a parallel range. */
static void
im2col_cols (float *col, size_t ld, const float *t, int channels, int r0, int r1, size_t b0,
    size_t b1, const ConvShape * sh)
{
  Packing pk = {.sh = sh,.m = col,.src = t,.ld = ld,.b0 = b0,.b1 = b1,.channels = channels,
    .r0 = r0 };
  /* run as rows r0..r1 of the loop, not 0..r1-r0 */
  if (r0 == 0)
    dae_cpu_parallel_for ((size_t) r1, (double) (b1 - b0), im2col_rows, &pk);
  else
    im2col_rows (&pk, (size_t) r0, (size_t) r1, 0);
}

/* Channels c0..c1 of t (n, channels, h, w) += col2im of dcol (rows (c - c0)*taps + tap, ld),
 * columns b0..b1; the taps of one channel in order. Called by the thread that owns these
 * channels. */
static void
col2im_cols (float *t, const float *dcol, size_t ld, int channels, int c0, int c1, size_t b0,
    size_t b1, const ConvShape * sh)
{
  const int pad = sh->k / 2;
  const size_t hw = (size_t) sh->hw;
  for (int c = c0; c < c1; c++)
    for (int tap = 0; tap < sh->taps; tap++)
      for (size_t i = b0 / hw; i * hw < b1; i++) {
        size_t p0, p1;
        sample_part (sh, b0, b1, i, &p0, &p1);
        float *plane = t + ((size_t) i * channels + c) * hw;
        const float *s = dcol + ((size_t) (c - c0) * sh->taps + tap) * ld + (i * hw + p0 - b0);
        int dy = tap / sh->k - pad, dx = tap % sh->k - pad;
        if (p0 == 0 && p1 == hw)
          add_shifted_plane (plane, s, sh->h, sh->w, dy, dx);
        else
          add_shifted_range (plane, s, sh->h, sh->w, dy, dx, p0, p1);
      }
}

static void
unpack_rows (const void *ctx, size_t r0, size_t r1, int thread)
{
  const Packing *pk = ctx;
  const ConvShape *sh = pk->sh;
  const size_t hw = (size_t) sh->hw, b0 = pk->b0, b1 = pk->b1, ld = pk->ld;
  const int rows = pk->channels;
  const float *m = pk->src, *b = pk->b;
  float *y = pk->t;
  const bool accumulate = pk->accumulate;
  (void) thread;
  for (int r = (int) r0; r < (int) r1; r++) {
    float bias = b ? b[r] : 0.0f;
    for (size_t i = b0 / hw; i * hw < b1; i++) {
      size_t p0, p1;
      sample_part (sh, b0, b1, i, &p0, &p1);
      float *dst = y + (i * rows + r) * hw + p0;
      const float *src = m + (size_t) r * ld + (i * hw + p0 - b0);
      size_t len = p1 - p0;
      if (accumulate)
        for (size_t p = 0; p < len; p++)
          dst[p] += src[p] + bias;
      else
        for (size_t p = 0; p < len; p++)
          dst[p] = src[p] + bias;
    }
  }
}

/* y (n, rows, h, w) at columns b0..b1 = (accumulate ? y : 0) + m (rows, ld) [+ b per row]. */
static void
unpack_cols (float *y, const float *m, size_t ld, const float *b, int rows, size_t b0,
    size_t b1, const ConvShape * sh, bool accumulate)
{
  Packing pk = {.sh = sh,.src = m,.t = y,.b = b,.ld = ld,.b0 = b0,.b1 = b1,.channels = rows,
    .accumulate = accumulate };
  dae_cpu_parallel_for ((size_t) rows, (double) (b1 - b0), unpack_rows, &pk);
}

/* m (rows, ld) = columns b0..b1 of t (n, rows, h, w): the inverse of unpack_cols. Called
 * inside a parallel range (each thread its own copy). */
static void
pack_cols (float *m, size_t ld, const float *t, int rows, size_t b0, size_t b1,
    const ConvShape * sh)
{
  const size_t hw = (size_t) sh->hw;
  for (int r = 0; r < rows; r++)
    for (size_t i = b0 / hw; i * hw < b1; i++) {
      size_t p0, p1;
      sample_part (sh, b0, b1, i, &p0, &p1);
      memcpy (m + (size_t) r * ld + (i * hw + p0 - b0), t + (i * rows + r) * hw + p0,
          (p1 - p0) * sizeof *m);
    }
}

/* rows of y (rows, len, stride ld) = b[r], or += b[r] when accumulate. Small next to the
 * GEMM that follows: on the calling thread. */
static void
bias_rows (float *y, size_t ld, const float *b, int rows, size_t len, bool accumulate)
{
  for (int r = 0; r < rows; r++) {
    float *d = y + r * ld;
    if (accumulate)
      for (size_t p = 0; p < len; p++)
        d[p] += b[r];
    else
      for (size_t p = 0; p < len; p++)
        d[p] = b[r];
  }
}

/* ---- linear ------------------------------------------------------------------------------ */

static void
cpu_linear_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x,
    const DaeTensor * w, const DaeTensor * b, bool accumulate)
{
  (void) s;
  int n = x->n, in = (int) dae_tensor_sample_size (x), out = y->c;
  float *yp = dae_cpu_ptr (y);
  sgemm (CblasNoTrans, CblasTrans, n, out, in, dae_cpu_ptr (x), in,
      dae_cpu_ptr (w), in, accumulate ? 1.0f : 0.0f, yp, out);
  if (b) {
    const float *bp = dae_cpu_ptr (b);
    for (int i = 0; i < n; i++)
      for (int o = 0; o < out; o++)
        yp[(size_t) i * out + o] += bp[o];
  }
}

static void
cpu_linear_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dw,
    const DaeTensor * db, const DaeTensor * dy, const DaeTensor * x, const DaeTensor * w)
{
  (void) s;
  int n = x->n, in = (int) dae_tensor_sample_size (x), out = dy->c;
  const float *dyp = dae_cpu_ptr (dy);
  if (dx)
    sgemm (CblasNoTrans, CblasNoTrans, n, in, out, dyp, out,
        dae_cpu_ptr (w), in, 1.0f, dae_cpu_ptr (dx), in);
  if (dw)
    sgemm (CblasTrans, CblasNoTrans, out, in, n, dyp, out,
        dae_cpu_ptr (x), in, 1.0f, dae_cpu_ptr (dw), in);
  if (db) {
    float *dbp = dae_cpu_ptr (db);
    for (int i = 0; i < n; i++)
      for (int o = 0; o < out; o++)
        dbp[o] += dyp[(size_t) i * out + o];
  }
}

/* ---- convolution: forward ---------------------------------------------------------------- */

/* y at columns b0..b1 = W x (+ b). col: this block's im2col scratch (kdim, cols), out: its
 * GEMM output (cout, cols) when the block spans samples. */
static void
conv_forward_block (float *col, float *out, float *y, const float *x, const float *w,
    const float *b, const ConvShape * sh, size_t b0, size_t b1, bool accumulate)
{
  const int kdim = sh->cin * sh->taps, cols = (int) (b1 - b0);
  const size_t hw = (size_t) sh->hw, n0 = b0 / hw, p0 = b0 - n0 * hw;
  const bool one = (b1 - 1) / hw == n0;         /* inside one sample */
  const float *cb = x + n0 * sh->cin * hw + p0;
  int ldb = (int) hw;
  if (sh->k != 1 || !one) {
    im2col_cols (col, (size_t) cols, x, sh->cin, 0, kdim, b0, b1, sh);
    cb = col;
    ldb = cols;
  }
  if (one) {
    /* the GEMM writes y directly, on top of the bias when there is one */
    float *yn = y + n0 * sh->cout * hw + p0;
    if (b)
      bias_rows (yn, hw, b, sh->cout, (size_t) cols, accumulate);
    sgemm (CblasNoTrans, CblasNoTrans, sh->cout, cols, kdim, w, kdim, cb, ldb,
        b || accumulate ? 1.0f : 0.0f, yn, (int) hw);
  } else {
    sgemm (CblasNoTrans, CblasNoTrans, sh->cout, cols, kdim, w, kdim, cb, ldb, 0.0f, out,
        cols);
    unpack_cols (y, out, (size_t) cols, b, sh->cout, b0, b1, sh, accumulate);
  }
}

typedef struct {
  const ConvShape *sh;
  const Blocks *B;
  const float *x, *w, *b;
  float *y, *col, *out;         /* col, out: one block's scratch per thread */
  bool accumulate;
} ConvForward;

static void
conv_forward_blocks (const void *ctx, size_t blk0, size_t blk1, int thread)
{
  const ConvForward *cf = ctx;
  const int kdim = cf->sh->cin * cf->sh->taps;
  for (size_t blk = blk0; blk < blk1; blk++) {
    size_t b0, b1;
    block_range (cf->B, cf->sh, (int) blk, &b0, &b1);
    if (b1 > b0)
      conv_forward_block (cf->col + (size_t) thread * kdim * cf->B->cols,
          cf->out + (size_t) thread * cf->sh->cout * cf->B->cols, cf->y, cf->x, cf->w, cf->b,
          cf->sh, b0, b1, cf->accumulate);
  }
}

static void
cpu_conv2d_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x,
    const DaeTensor * w, const DaeTensor * b, const DaeConvArgs * a)
{
  ConvShape sh = conv_shape (x, w);
  const int kdim = sh.cin * sh.taps, nt = dae_cpu_threads ();
  Blocks B = make_blocks (&sh, FWD_BLOCK_FLOATS / kdim, nt);
  if (B.cols < BLOCK_COLS_MIN || (double) sh.cout * kdim * sh.n * sh.hw < (1 << 21)) {
    /* one block on the calling thread, threaded inside */
    B = (Blocks) {.spb = sh.n,.parts = 1,.count = 1,.seg = 0,.cols = (size_t) sh.n * sh.hw };
  }
  int threads = B.count > 1 ? nt : 1;
  float *col = dae_cpu_scratch (s, 0, (size_t) threads * kdim * B.cols);
  float *out = dae_cpu_scratch (s, 1, (size_t) threads * sh.cout * B.cols);
  if (!col || !out)
    return;
  ConvForward cf = {.sh = &sh,.B = &B,.x = dae_cpu_ptr (x),.w = dae_cpu_ptr (w),
    .b = dae_cpu_ptr (b),.y = dae_cpu_ptr (y),.col = col,.out = out,.accumulate = a->accumulate
  };
  if (B.count == 1)
    conv_forward_blocks (&cf, 0, 1, 0);
  else                          /* a block's result does not depend on the thread running it */
    dae_cpu_parallel_for ((size_t) B.count, 1e9, conv_forward_blocks, &cf);
}

/* ---- convolution: backward --------------------------------------------------------------- */

typedef struct {
  const ConvShape *sh;
  float *db;
  const float *dy;
} BiasGrad;

/* db (cout) += sum over samples and pixels of dy, channels c0..c1. */
static void
conv_bias_grad (const void *ctx, size_t c0, size_t c1, int thread)
{
  const BiasGrad *bg = ctx;
  const ConvShape *sh = bg->sh;
  const float *dy = bg->dy;
  float *db = bg->db;
  (void) thread;
  for (int c = (int) c0; c < (int) c1; c++) {
    double sum = 0.0;
    for (int n = 0; n < sh->n; n++) {
      const float *p = dy + ((size_t) n * sh->cout + c) * sh->hw;
      float part = 0.0f;
      for (int i = 0; i < sh->hw; i++)
        part += p[i];
      sum += part;
    }
    db[c] += (float) sum;
  }
}

typedef struct {
  const ConvShape *sh;
  const Blocks *B;
  const float *x, *w, *dy;
  float *dx, *dw;
  float *col, *dcol, *dyb;      /* scratch: (kdim, cols), (kdim, cols), (threads, cout, cols) */
  int ranges;                   /* of input channels */
} ConvBackward;

/* Input channels c0..c1 (rows c0*taps..c1*taps of col, dcol and dw) over all the blocks, in
 * order; dyb: this thread's copy of a block of dy when blocks span samples. */
static void
conv_backward_channels (const ConvBackward * cb, int c0, int c1, float *dyb)
{
  const ConvShape *sh = cb->sh;
  const int kdim = sh->cin * sh->taps, r0 = c0 * sh->taps, rows = (c1 - c0) * sh->taps;
  const size_t hw = (size_t) sh->hw;
  if (rows == 0)
    return;
  for (int blk = 0; blk < cb->B->count; blk++) {
    size_t b0, b1;
    block_range (cb->B, sh, blk, &b0, &b1);
    if (b1 <= b0)
      continue;
    const int cols = (int) (b1 - b0);
    const size_t n0 = b0 / hw, p0 = b0 - n0 * hw;
    const bool one = (b1 - 1) / hw == n0;
    const float *dyg = cb->dy + n0 * sh->cout * hw + p0;
    int lddy = (int) hw;
    if (!one) {
      pack_cols (dyb, (size_t) cols, cb->dy, sh->cout, b0, b1, sh);
      dyg = dyb;
      lddy = cols;
    }
    if (cb->dw) {               /* dw[:, rows] += dy col[rows]^T */
      const float *colr = cb->x + (n0 * sh->cin + c0) * hw + p0;
      int ldc = (int) hw;
      if (sh->k != 1 || !one) {
        float *buf = cb->col + (size_t) r0 * cb->B->cols;   /* this thread's rows */
        im2col_cols (buf, (size_t) cols, cb->x, sh->cin, r0, r0 + rows, b0, b1, sh);
        colr = buf;
        ldc = cols;
      }
      sgemm (CblasNoTrans, CblasTrans, sh->cout, rows, cols, dyg, lddy, colr, ldc, 1.0f,
          cb->dw + r0, kdim);
    }
    if (cb->dx) {               /* dcol[rows] = W[:, rows]^T dy, then col2im */
      if (sh->k == 1 && one) {
        sgemm (CblasTrans, CblasNoTrans, rows, cols, sh->cout, cb->w + r0, kdim, dyg, lddy,
            1.0f, cb->dx + (n0 * sh->cin + c0) * hw + p0, (int) hw);
      } else {
        float *dcol = cb->dcol + (size_t) r0 * cb->B->cols;
        sgemm (CblasTrans, CblasNoTrans, rows, cols, sh->cout, cb->w + r0, kdim, dyg, lddy,
            0.0f, dcol, cols);
        col2im_cols (cb->dx, dcol, (size_t) cols, sh->cin, c0, c1, b0, b1, sh);
      }
    }
  }
}

/* Channel ranges r0..r1 of cb->ranges. */
static void
conv_backward_ranges (const void *ctx, size_t r0, size_t r1, int thread)
{
  const ConvBackward *cb = ctx;
  const int cin = cb->sh->cin;
  for (size_t r = r0; r < r1; r++)
    conv_backward_channels (cb, (int) (cin * r / cb->ranges), (int) (cin * (r + 1) / cb->ranges),
        cb->dyb + (size_t) thread * cb->sh->cout * cb->B->cols);
}

static void
cpu_conv2d_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dw,
    const DaeTensor * db, const DaeTensor * dy, const DaeTensor * x, const DaeTensor * w,
    const DaeConvArgs * a)
{
  (void) a;
  ConvShape sh = conv_shape (x, w);
  const float *dyp = dae_cpu_ptr (dy);
  if (db) {
    BiasGrad bg = { &sh, dae_cpu_ptr (db), dyp };
    dae_cpu_parallel_for ((size_t) sh.cout, (double) sh.n * sh.hw, conv_bias_grad, &bg);
  }
  if (!dx && !dw)
    return;
  const int kdim = sh.cin * sh.taps;
  /* Images of 16x16 and more: one block per sample at most. A block of several samples
   * needs its dy copied into one matrix by every thread (pack_cols), 8-10% of a training
   * step at 32x32; one sample's 256+ columns are wide enough for the GEMMs. */
  size_t target = BWD_BLOCK_FLOATS / kdim;
  if (sh.hw >= BWD_SAMPLE_BLOCK_MIN_HW && target > (size_t) sh.hw)
    target = (size_t) sh.hw;
  Blocks B = make_blocks (&sh, target, 1);
  /* threads own input channels; too few channels or too little work: one thread, with the
   * loops and GEMMs threaded inside */
  int threads = dae_cpu_threads ();
  /* channel ranges: one per thread, so that each range's GEMMs are as wide as they can be
   * (rows = channels x taps against the kernels' 32-wide tiles; four ranges per thread cost
   * the fmnist32 training step 18%); the pool's caller takes over a range whose worker has
   * not started. Too few channels or too little work: one range on the calling thread,
   * threaded inside. */
  int ranges = MIN (sh.cin, threads);
  if (threads == 1 || sh.cin < threads || (double) sh.cout * kdim * sh.n * sh.hw < (1 << 21))
    ranges = threads = 1;
  ConvBackward cb = {
    .sh = &sh,.B = &B,.x = dae_cpu_ptr (x),.w = dae_cpu_ptr (w),.dy = dyp,
    .dx = dae_cpu_ptr (dx),.dw = dae_cpu_ptr (dw),
    .col = dae_cpu_scratch (s, 0, (size_t) kdim * B.cols),
    .dcol = dx ? dae_cpu_scratch (s, 3, (size_t) kdim * B.cols) : NULL,
    .dyb = dae_cpu_scratch (s, 1, (size_t) threads * sh.cout * B.cols),
  };
  if (!cb.col || (dx && !cb.dcol) || !cb.dyb)
    return;
  cb.ranges = ranges;
  if (ranges == 1)
    conv_backward_ranges (&cb, 0, 1, 0);
  else
    dae_cpu_parallel_for ((size_t) ranges, 1e9, conv_backward_ranges, &cb);
}

void
dae_cpu_register_gemm (DaeOpsTable * t)
{
  t->linear_forward = cpu_linear_forward;
  t->linear_backward = cpu_linear_backward;
  t->conv2d_forward = cpu_conv2d_forward;
  t->conv2d_backward = cpu_conv2d_backward;
}
