#version 450
// Optimiser updates, elementwise: -DOP_ADAM (torch.optim.Adam / AdamW of PyTorch 1.13, same
// order of operations; the scalars are computed on the host in double and rounded to float
// as PyTorch does) and -DOP_EMA.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

DAE_LOCAL_SIZE_1D

#if defined(OP_ADAM)

DAE_BUFFER(0, param)
DAE_BUFFER_RO(1, grad)
DAE_BUFFER(2, m)
DAE_BUFFER(3, v)
DAE_BUFFER_RO(4, grad_scale)  // one element: the clip factor, when has_scale

DAE_PARAMS_BEGIN
  uint count;
  uint has_scale;
  uint decoupled;     // AdamW: p *= decay; Adam: g += wd * p
  float wd;
  float decay;        // 1 - lr * wd
  float beta1;
  float beta2;
  float one_m_beta1;
  float one_m_beta2;
  float eps;
  float step_size;    // lr / (1 - beta1^t)
  float bc2_sqrt;     // sqrt(1 - beta2^t)
DAE_PARAMS_END

void main() {
  uint i = dae_linear_id();
  if (i >= p.count)
    return;
  float scale = p.has_scale != 0 ? grad_scale[p.base[4]] : 1.0;
  float g = grad[p.base[1] + i] * scale;
  float w = param[p.base[0] + i];
  if (p.decoupled != 0)
    w *= p.decay;
  else if (p.wd != 0.0)
    g = g + p.wd * w;
  float mi = m[p.base[2] + i] * p.beta1 + p.one_m_beta1 * g;
  float vi = v[p.base[3] + i] * p.beta2 + p.one_m_beta2 * g * g;
  float denom = sqrt(vi) / p.bc2_sqrt + p.eps;
  m[p.base[2] + i] = mi;
  v[p.base[3] + i] = vi;
  param[p.base[0] + i] = w + (-p.step_size * mi) / denom;
}

#elif defined(OP_EMA)

DAE_BUFFER(0, ema)
DAE_BUFFER_RO(1, param)

DAE_PARAMS_BEGIN
  uint count;
  float keep;         // decay
  float take;         // 1 - decay
DAE_PARAMS_END

void main() {
  uint i = dae_linear_id();
  if (i >= p.count)
    return;
  ema[p.base[0] + i] = ema[p.base[0] + i] * p.keep + param[p.base[1] + i] * p.take;
}

#endif
