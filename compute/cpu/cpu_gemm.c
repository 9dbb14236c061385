/* CPU: linear layers and 2-D convolutions (ksize 1 or 3, padding k/2, stride 1).
 *
 * Everything is OpenBLAS sgemm. A 3x3 convolution is im2col + sgemm: the columns of G
 * samples are packed side by side into one (Cin*9, G*HW) matrix from stream scratch, so
 * that small images (8x8, 4x4) still give the GEMM a wide enough N. The input gradient is
 * W^T dy (Cin*9, G*HW) added back into dx by col2im; the weight gradient is dy x col^T
 * accumulated over the groups. Packing loops run on OpenMP threads (when these wait passively, see
 * pack_threaded); sgemm is threaded by OpenBLAS itself and is never called from inside an
 * OpenMP region.
 *
 * Scratch slots: 0 the im2col of x (or a packed x), 1 GEMM output of a group / packed dy,
 * 3 the columns of the input gradient. */
#include "cpu_backend.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

/* Columns a GEMM should see at least before samples are batched together, and the most
 * floats one im2col buffer may hold (16 MiB) unless a single sample needs more. */
#define GROUP_COLS 1024
#define COL_MAX_FLOATS (4u << 20)
#define PARALLEL_MIN 32768

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

/* Samples per GEMM: enough for GROUP_COLS columns, bounded by the im2col buffer size. */
static int
group_size (const ConvShape * sh, int rows)
{
  int g = (GROUP_COLS + sh->hw - 1) / sh->hw;
  size_t per_sample = (size_t) rows * sh->hw;
  while (g > 1 && (size_t) g * per_sample > COL_MAX_FLOATS)
    g--;
  return g < sh->n ? g : sh->n;
}

/* Packing loops use OpenMP threads only when they wait passively. With libgomp's default
 * policy the idle team spins for milliseconds after each loop and takes the cores from
 * OpenBLAS's own threads in the sgemm that follows: measured here, 2-5x slower convolutions
 * than packing on the calling thread alone, and 1.5x slower than threads that sleep
 * (OMP_WAIT_POLICY=passive, see doc/performance.md). Set in dae_cpu_register_gemm. */
static bool pack_threaded;

static bool
omp_waits_passively (void)
{
  const char *policy = getenv ("OMP_WAIT_POLICY"), *spin = getenv ("GOMP_SPINCOUNT");
  return (policy && g_ascii_strcasecmp (policy, "passive") == 0) ||
      (spin && strcmp (spin, "0") == 0);
}

/* C = op(A) op(B) + beta C, row-major. */
static void
sgemm (CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const float *a, int lda,
    const float *b, int ldb, float beta, float *c, int ldc)
{
  cblas_sgemm (CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

/* ---- packing ----------------------------------------------------------------------------- */

/* One output row of im2col: the plane `src` (h, w) shifted by (dy, dx) with zero padding,
 * written to dst (h*w). */
static void
shifted_plane (float *dst, const float *src, int h, int w, int dy, int dx)
{
  for (int y = 0; y < h; y++) {
    float *d = dst + (size_t) y * w;
    int sy = y + dy;
    if (sy < 0 || sy >= h) {
      memset (d, 0, (size_t) w * sizeof *d);
      continue;
    }
    const float *s = src + (size_t) sy * w;
    if (dx == 0) {
      memcpy (d, s, (size_t) w * sizeof *d);
    } else if (dx < 0) {
      d[0] = 0.0f;
      memcpy (d + 1, s, (size_t) (w - 1) * sizeof *d);
    } else {
      memcpy (d, s + 1, (size_t) (w - 1) * sizeof *d);
      d[w - 1] = 0.0f;
    }
  }
}

/* col (channels*taps, g*hw) from samples n0..n0+g-1 of t (n, channels, h, w). For k = 1 this
 * only packs the samples side by side. */
static void
im2col (float *col, const float *t, int channels, int n0, int g, const ConvShape * sh)
{
  int rows = channels * sh->taps, pad = sh->k / 2;
  size_t ld = (size_t) g * sh->hw;
#pragma omp parallel for schedule(static) if (pack_threaded && (size_t) rows * ld > PARALLEL_MIN)
  for (int r = 0; r < rows; r++) {
    int c = r / sh->taps, tap = r % sh->taps;
    for (int i = 0; i < g; i++) {
      const float *plane = t + ((size_t) (n0 + i) * channels + c) * sh->hw;
      shifted_plane (col + r * ld + (size_t) i * sh->hw, plane, sh->h, sh->w,
          tap / sh->k - pad, tap % sh->k - pad);
    }
  }
}

/* y (samples n0.., rows, hw) = (accumulate ? y : 0) + m (rows, g*hw) [+ b per row]. */
static void
unpack_add (float *y, const float *m, const float *b, int rows, int n0, int g,
    const ConvShape * sh, bool accumulate)
{
  size_t ld = (size_t) g * sh->hw;
#pragma omp parallel for schedule(static) if (pack_threaded && (size_t) rows * ld > PARALLEL_MIN)
  for (int r = 0; r < rows; r++) {
    float bias = b ? b[r] : 0.0f;
    for (int i = 0; i < g; i++) {
      float *dst = y + ((size_t) (n0 + i) * rows + r) * sh->hw;
      const float *src = m + r * ld + (size_t) i * sh->hw;
      if (accumulate)
        for (int p = 0; p < sh->hw; p++)
          dst[p] += src[p] + bias;
      else
        for (int p = 0; p < sh->hw; p++)
          dst[p] = src[p] + bias;
    }
  }
}

/* rows of y (rows, len) = b[r] everywhere, or += b[r] when accumulate. */
static void
bias_rows (float *y, const float *b, int rows, size_t len, bool accumulate)
{
#pragma omp parallel for schedule(static) if (pack_threaded && (size_t) rows * len > PARALLEL_MIN)
  for (int r = 0; r < rows; r++) {
    float *d = y + r * len;
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

/* ---- convolution ------------------------------------------------------------------------- */

static void
cpu_conv2d_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x,
    const DaeTensor * w, const DaeTensor * b, const DaeConvArgs * a)
{
  ConvShape sh = conv_shape (x, w);
  int kdim = sh.cin * sh.taps;
  int g = group_size (&sh, kdim);
  const float *xp = dae_cpu_ptr (x), *wp = dae_cpu_ptr (w), *bp = dae_cpu_ptr (b);
  float *yp = dae_cpu_ptr (y);
  for (int n0 = 0; n0 < sh.n; n0 += g) {
    int gn = sh.n - n0 < g ? sh.n - n0 : g;
    int cols = gn * sh.hw;
    const float *col = xp + (size_t) n0 * sh.cin * sh.hw;
    if (sh.k != 1 || gn > 1) {
      float *buf = dae_cpu_scratch (s, 0, (size_t) kdim * cols);
      if (!buf)
        return;
      im2col (buf, xp, sh.cin, n0, gn, &sh);
      col = buf;
    }
    if (gn == 1) {
      /* One sample: the GEMM writes y directly, on top of the bias when there is one. */
      float *yn = yp + (size_t) n0 * sh.cout * sh.hw;
      if (bp)
        bias_rows (yn, bp, sh.cout, sh.hw, a->accumulate);
      sgemm (CblasNoTrans, CblasNoTrans, sh.cout, cols, kdim, wp,
          kdim, col, cols, bp || a->accumulate ? 1.0f : 0.0f, yn, sh.hw);
    } else {
      float *out = dae_cpu_scratch (s, 1, (size_t) sh.cout * cols);
      if (!out)
        return;
      sgemm (CblasNoTrans, CblasNoTrans, sh.cout, cols, kdim, wp,
          kdim, col, cols, 0.0f, out, cols);
      unpack_add (yp, out, bp, sh.cout, n0, gn, &sh, a->accumulate);
    }
  }
}

/* db (cout) += sum over samples and pixels of dy. */
static void
conv_bias_grad (float *db, const float *dy, const ConvShape * sh)
{
#pragma omp parallel for schedule(static) \
    if (pack_threaded && (size_t) sh->n * sh->cout * sh->hw > PARALLEL_MIN)
  for (int c = 0; c < sh->cout; c++) {
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

/* dy of samples n0..n0+gn-1 as one (cout, gn*hw) matrix: dy itself for one sample, else
 * packed into scratch slot 1. */
static const float *
dy_group (DaeStream * s, const float *dy, int n0, int gn, const ConvShape * sh)
{
  if (gn == 1)
    return dy + (size_t) n0 * sh->cout * sh->hw;
  ConvShape one = *sh;
  one.k = 1;
  one.taps = 1;
  float *buf = dae_cpu_scratch (s, 1, (size_t) sh->cout * gn * sh->hw);
  if (buf)
    im2col (buf, dy, sh->cout, n0, gn, &one);
  return buf;
}

/* dw (cout, cin*taps) += dyg x col^T over samples n0..n0+gn-1. */
static void
conv_weight_grad (DaeStream * s, float *dw, const float *dyg, const float *x, int n0, int gn,
    const ConvShape * sh)
{
  int kdim = sh->cin * sh->taps, cols = gn * sh->hw;
  const float *col = x + (size_t) n0 * sh->cin * sh->hw;
  if (sh->k != 1 || gn > 1) {
    float *buf = dae_cpu_scratch (s, 0, (size_t) kdim * cols);
    if (!buf)
      return;
    im2col (buf, x, sh->cin, n0, gn, sh);
    col = buf;
  }
  sgemm (CblasNoTrans, CblasTrans, sh->cout, kdim, cols, dyg, cols, col, cols, 1.0f, dw, kdim);
}

/* One plane's part of col2im: plane[y + dy][x + dx] += src[y][x] wherever inside, the adjoint
 * of shifted_plane. */
static void
add_shifted_plane (float *plane, const float *src, int h, int w, int dy, int dx)
{
  for (int y = 0; y < h; y++) {
    int py = y + dy;
    if (py < 0 || py >= h)
      continue;
    float *d = plane + (size_t) py * w;
    const float *r = src + (size_t) y * w;
    if (dx == 0)
      for (int x = 0; x < w; x++)
        d[x] += r[x];
    else if (dx < 0)
      for (int x = 1; x < w; x++)
        d[x - 1] += r[x];
    else
      for (int x = 0; x < w - 1; x++)
        d[x + 1] += r[x];
  }
}

/* t (samples n0.., channels, h, w) += col2im of col (channels*taps, g*hw). The taps of one
 * channel stay on one thread, so no two threads add into the same plane. */
static void
col2im_add (float *t, const float *col, int channels, int n0, int g, const ConvShape * sh)
{
  int pad = sh->k / 2;
  size_t ld = (size_t) g * sh->hw;
#pragma omp parallel for schedule(static) \
    if (pack_threaded && (size_t) channels * sh->taps * ld > PARALLEL_MIN)
  for (int c = 0; c < channels; c++)
    for (int tap = 0; tap < sh->taps; tap++)
      for (int i = 0; i < g; i++)
        add_shifted_plane (t + ((size_t) (n0 + i) * channels + c) * sh->hw,
            col + ((size_t) c * sh->taps + tap) * ld + (size_t) i * sh->hw, sh->h, sh->w,
            tap / sh->k - pad, tap % sh->k - pad);
}

/* dx += the input gradient of samples n0..n0+gn-1: dcol = W^T dyg, then col2im (for a 1x1
 * convolution of one sample, W^T dyg straight into dx). */
static void
conv_input_grad (DaeStream * s, float *dx, const float *dyg, const float *w, int n0, int gn,
    const ConvShape * sh)
{
  int kdim = sh->cin * sh->taps, cols = gn * sh->hw;
  if (sh->k == 1 && gn == 1) {
    sgemm (CblasTrans, CblasNoTrans, sh->cin, cols, sh->cout, w, sh->cin, dyg, cols, 1.0f,
        dx + (size_t) n0 * sh->cin * sh->hw, cols);
    return;
  }
  float *dcol = dae_cpu_scratch (s, 3, (size_t) kdim * cols);
  if (!dcol)
    return;
  sgemm (CblasTrans, CblasNoTrans, kdim, cols, sh->cout, w, kdim, dyg, cols, 0.0f, dcol, cols);
  col2im_add (dx, dcol, sh->cin, n0, gn, sh);
}

static void
cpu_conv2d_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dw,
    const DaeTensor * db, const DaeTensor * dy, const DaeTensor * x, const DaeTensor * w,
    const DaeConvArgs * a)
{
  (void) a;
  ConvShape sh = conv_shape (x, w);
  const float *dyp = dae_cpu_ptr (dy);
  if (db)
    conv_bias_grad (dae_cpu_ptr (db), dyp, &sh);
  if (!dx && !dw)
    return;
  int rows = sh.cin * sh.taps > sh.cout ? sh.cin * sh.taps : sh.cout;
  int g = group_size (&sh, rows);
  for (int n0 = 0; n0 < sh.n && s->error.code == DAE_OK; n0 += g) {
    int gn = sh.n - n0 < g ? sh.n - n0 : g;
    const float *dyg = dy_group (s, dyp, n0, gn, &sh);
    if (!dyg)
      return;
    if (dw)
      conv_weight_grad (s, dae_cpu_ptr (dw), dyg, dae_cpu_ptr (x), n0, gn, &sh);
    if (dx)
      conv_input_grad (s, dae_cpu_ptr (dx), dyg, dae_cpu_ptr (w), n0, gn, &sh);
  }
}

void
dae_cpu_register_gemm (DaeOpsTable * t)
{
  pack_threaded = omp_waits_passively ();
  t->linear_forward = cpu_linear_forward;
  t->linear_backward = cpu_linear_backward;
  t->conv2d_forward = cpu_conv2d_forward;
  t->conv2d_backward = cpu_conv2d_backward;
}
