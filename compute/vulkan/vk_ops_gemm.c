/* Vulkan: linear layers (on dae_vk_gemm) and 2-D convolutions (shaders/conv2d.comp, implicit
 * GEMMs on the same tile engine). Weight gradients split their long K (samples x pixels)
 * into chunks whose partial products are summed by a second pass in a fixed order, and bias
 * gradients are row sums in one or two passes: no float atomics, so training is
 * reproducible run to run.
 *
 * Scratch slots: 0 the weight-gradient partials, 1 the bias-gradient partials, 2 the flipped
 * weights of the input gradient (lavapipe profile, read four k at a time). */
#include "vk_gemm.h"
#include "vk_winograd.h"

/* Partial sums of a bias gradient: values per chunk (one invocation sums one chunk). */
#define BIAS_CHUNK 4096
/* Split-K of the weight gradient: at least this many k per chunk, and at most this many
 * floats of partials (64 MiB). */
#define MIN_K_CHUNK_CPU 256
#define MIN_K_CHUNK_GPU 128
#define MAX_PARTIALS (16u << 20)
#define LOCAL_1D 64

typedef struct {
  uint32_t nimg, cin, cout, h, w, hw;
  float inv_hw, inv_w;
  uint32_t kchunk, nsplit;
  uint32_t flipped;
} ConvParams;

typedef struct {
  uint32_t count, nsplit, total, chunk, P;
  uint32_t cin, cout, kk;
} SumParams;

/* ---- reductions -------------------------------------------------------------------------- */

/* y (count) += sum over s < nsplit of partials[s*count + i]. */
static void
sum_partials (DaeStream * s, const DaeTensor * y, const DaeTensor * partials, uint32_t count,
    uint32_t nsplit)
{
  SumParams p = {.count = count, .nsplit = nsplit };
  DaeVkArg args[] = { {y, true}, {partials, false} };
  uint32_t gx, gy, spec[] = { LOCAL_1D };
  dae_vk_grid_1d (s, count, LOCAL_1D, &gx, &gy);
  dae_vk_dispatch (s, "conv2d_sum_partials", spec, 1, args, 2, &p, sizeof p, gx, gy, 1);
}

/* db (C) += sums of dy (n, C, P) over n and P. */
static void
bias_grad (DaeStream * s, const DaeTensor * db, const DaeTensor * dy, uint32_t n, uint32_t C,
    uint32_t P)
{
  uint32_t total = n * P;
  uint32_t nsplit = (total + BIAS_CHUNK - 1) / BIAS_CHUNK;
  const DaeTensor *out = db;
  if (nsplit > 1) {
    out = dae_vk_scratch (s, 1, (size_t) nsplit * C);
    if (!out)
      return;
  }
  SumParams p = {.count = C, .nsplit = nsplit, .total = total, .chunk = BIAS_CHUNK, .P = P };
  DaeVkArg args[] = { {out, true}, {dy, false} };
  uint32_t gx, gy, spec[] = { LOCAL_1D };
  dae_vk_grid_1d (s, (size_t) C * nsplit, LOCAL_1D, &gx, &gy);
  dae_vk_dispatch (s, "conv2d_bias_grad", spec, 1, args, 2, &p, sizeof p, gx, gy, 1);
  if (nsplit > 1)
    sum_partials (s, db, out, C, nsplit);
}

/* ---- linear ------------------------------------------------------------------------------ */

static void
vk_linear_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x,
    const DaeTensor * w, const DaeTensor * b, bool accumulate)
{
  int n = x->n, in = (int) dae_tensor_sample_size (x), out = y->c;
  DaeVkMat ma = { x, 0, 0, in, false }, mb = { w, 0, 0, in, true }, mc = { y, 0, 0, out, false };
  dae_vk_gemm_bias (s, n, out, in, 1, ma, mb, mc, 1.0f, accumulate ? 1.0f : 0.0f, b, false);
}

static void
vk_linear_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dw,
    const DaeTensor * db, const DaeTensor * dy, const DaeTensor * x, const DaeTensor * w)
{
  int n = x->n, in = (int) dae_tensor_sample_size (x), out = dy->c;
  if (dx) {
    DaeVkMat ma = { dy, 0, 0, out, false }, mb = { w, 0, 0, in, false };
    DaeVkMat mc = { dx, 0, 0, in, false };
    dae_vk_gemm (s, n, in, out, 1, ma, mb, mc, 1.0f, 1.0f);
  }
  if (dw) {
    DaeVkMat ma = { dy, 0, 0, out, true }, mb = { x, 0, 0, in, false };
    DaeVkMat mc = { dw, 0, 0, in, false };
    dae_vk_gemm (s, out, in, n, 1, ma, mb, mc, 1.0f, 1.0f);
  }
  if (db)
    bias_grad (s, db, dy, (uint32_t) n, (uint32_t) out, 1);
}

/* ---- convolution ------------------------------------------------------------------------- */

static ConvParams
conv_params (const DaeTensor * x, const DaeTensor * w)
{
  ConvParams p = {
    .nimg = x->n, .cin = x->c, .cout = w->n, .h = x->h, .w = x->w, .hw = x->h * x->w,
    .inv_hw = 1.0f / (float) (x->h * x->w), .inv_w = 1.0f / (float) x->w,
  };
  return p;
}

/* One implicit-GEMM launch of conv2d.comp variant `shader` for an M x N output, split in
 * nsplit chunks of K along z. */
static void
conv_dispatch (DaeStream * s, const char *shader, const DaeTensor * w, const DaeVkArg * args,
    int nargs, const ConvParams * p, uint32_t M, uint32_t N, const DaeVkTiles * t)
{
  uint32_t bm = dae_vk_tiles_bm (t), bn = dae_vk_tiles_bn (t);
  uint32_t gx = (N + bn - 1) / bn, gy = (M + bm - 1) / bm, gz = p->nsplit ? p->nsplit : 1;
  dae_vk_tiles_dispatch (s, shader, t, (uint32_t) w->h, args, nargs, p, sizeof *p, gx, gy, gz);
}

static void
vk_conv2d_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * x,
    const DaeTensor * w, const DaeTensor * b, const DaeConvArgs * a)
{
  int tile = dae_vk_winograd_tile (s, x, w);
  if (tile) {
    dae_vk_winograd_forward (s, tile, y, x, w, b, a->accumulate);
    return;
  }
  ConvParams p = conv_params (x, w);
  uint32_t M = p.cout, N = p.nimg * p.hw, K = p.cin * (uint32_t) (w->h * w->w);
  DaeVkTiles t = dae_vk_gemm_tiles (s, (int) M, (int) N, K % 4 == 0 && dae_vk_aligned4 (w, 0),
      true);
  t.epilogue = dae_vk_conv_epilogue (b != NULL, a->accumulate);
  DaeVkArg args[] = { {w, false}, {x, false}, {y, true}, {b, false} };
  conv_dispatch (s, "conv2d_fwd", w, args, 4, &p, M, N, &t);
}

/* dw += dy x im2col(x)^T, K = samples x pixels split into chunks when the output alone has
 * too few tiles to keep the device busy. */
static void
conv_weight_grad (DaeStream * s, const DaeTensor * dw, const DaeTensor * dy,
    const DaeTensor * x, ConvParams p)
{
  uint32_t taps = (uint32_t) (dw->h * dw->w);
  uint32_t M = p.cout, N = p.cin * taps, K = p.nimg * p.hw;
  /* Four k at a time stay within one sample's row of dy when HW % 4 == 0. */
  DaeVkTiles t = dae_vk_gemm_tiles (s, (int) M, (int) N, p.hw % 4 == 0 &&
      dae_vk_aligned4 (dy, 0), true);
  bool cpu = dae_vk_gemm_is_cpu_profile (&t);
  uint32_t tiles = ((M + dae_vk_tiles_bm (&t) - 1) / dae_vk_tiles_bm (&t)) *
      ((N + dae_vk_tiles_bn (&t) - 1) / dae_vk_tiles_bn (&t));
  uint32_t target = cpu ? 32 : 512, min_chunk = cpu ? MIN_K_CHUNK_CPU : MIN_K_CHUNK_GPU;
  uint32_t nsplit = tiles >= target ? 1 : (target + tiles - 1) / tiles;
  if (nsplit > K / min_chunk)
    nsplit = K / min_chunk;
  if ((size_t) nsplit * M * N > MAX_PARTIALS)
    nsplit = MAX_PARTIALS / (M * N);
  if (nsplit < 1)
    nsplit = 1;
  p.kchunk = (K + nsplit - 1) / nsplit;
  p.kchunk = (p.kchunk + 3) / 4 * 4;
  p.nsplit = (K + p.kchunk - 1) / p.kchunk;
  t.epilogue = p.nsplit > 1 ? 0 : DAE_VK_EPI_ACCUMULATE;
  const DaeTensor *out = dw;
  if (p.nsplit > 1) {
    out = dae_vk_scratch (s, 0, (size_t) p.nsplit * M * N);
    if (!out)
      return;
  }
  DaeVkArg args[] = { {dy, false}, {x, false}, {out, true} };
  conv_dispatch (s, "conv2d_bwd_filter", dw, args, 3, &p, M, N, &t);
  if (p.nsplit > 1)
    sum_partials (s, dw, out, M * N, p.nsplit);
}

/* W~ (Cin, Cout*taps) from w (Cout, Cin, k, k): the input gradient's weights, contiguous
 * along its K. */
static const DaeTensor *
flip_weights (DaeStream * s, const DaeTensor * w)
{
  uint32_t count = (uint32_t) dae_tensor_numel (w);
  const DaeTensor *wf = dae_vk_scratch (s, 2, count);
  if (!wf)
    return NULL;
  SumParams p = {.count = count, .cin = w->c, .cout = w->n, .kk = w->h * w->w };
  DaeVkArg args[] = { {wf, true}, {w, false} };
  uint32_t gx, gy, spec[] = { LOCAL_1D };
  dae_vk_grid_1d (s, count, LOCAL_1D, &gx, &gy);
  dae_vk_dispatch (s, "conv2d_flip_weights", spec, 1, args, 2, &p, sizeof p, gx, gy, 1);
  return wf;
}

/* dx += W~ x im2col(dy). On the lavapipe profile the weights are flipped first so that they
 * can be read four k at a time. */
static void
conv_input_grad (DaeStream * s, const DaeTensor * dx, const DaeTensor * dy,
    const DaeTensor * w, ConvParams p)
{
  uint32_t M = p.cin, N = p.nimg * p.hw, K = p.cout * (uint32_t) (w->h * w->w);
  DaeVkTiles t = dae_vk_gemm_tiles (s, (int) M, (int) N, K % 4 == 0, true);
  const DaeTensor *a = w;
  if (t.kv == 4) {
    a = flip_weights (s, w);
    if (!a)
      return;
    p.flipped = 1;
  }
  DaeVkArg args[] = { {a, false}, {dy, false}, {dx, true} };
  conv_dispatch (s, "conv2d_bwd_data", w, args, 3, &p, M, N, &t);
}

static void
vk_conv2d_backward (DaeStream * s, const DaeTensor * dx, const DaeTensor * dw,
    const DaeTensor * db, const DaeTensor * dy, const DaeTensor * x, const DaeTensor * w,
    const DaeConvArgs * a)
{
  (void) a;
  ConvParams p = conv_params (x, w);
  if (db)
    bias_grad (s, db, dy, p.nimg, p.cout, p.hw);
  if (dx)
    conv_input_grad (s, dx, dy, w, p);
  if (dw)
    conv_weight_grad (s, dw, dy, x, p);
}

void
dae_vk_register_gemm (DaeOpsTable * t)
{
  t->linear_forward = vk_linear_forward;
  t->linear_backward = vk_linear_backward;
  t->conv2d_forward = vk_conv2d_forward;
  t->conv2d_backward = vk_conv2d_backward;
}
