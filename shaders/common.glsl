// Shared declarations of every diffae compute shader.
//
// Bindings: up to 8 storage buffers of floats, declared with DAE_BUFFER(binding, name).
// Push constants: the first 8 words are the element offsets of the bound tensors within
// their bindings (filled by dae_vk_dispatch); the op's own parameters follow. Declare them as
//   DAE_PARAMS_BEGIN  uint n; float alpha;  DAE_PARAMS_END
// and read them as p.n, p.alpha; element i of tensor bound at binding b is
//   name[p.base[b] + i].
// Workgroup sizes are specialisation constants 0..2 (local_size_x_id etc.), so one shader
// serves the small-workgroup profile of lavapipe and the large one of GPUs.

#extension GL_EXT_control_flow_attributes : enable

#define DAE_BUFFER(b, name) \
  layout(std430, set = 0, binding = b) buffer Buffer##b { float name[]; };
#define DAE_BUFFER_RO(b, name) \
  layout(std430, set = 0, binding = b) readonly buffer Buffer##b { float name[]; };
#define DAE_BUFFER_WO(b, name) \
  layout(std430, set = 0, binding = b) writeonly buffer Buffer##b { float name[]; };

#define DAE_PARAMS_BEGIN layout(push_constant) uniform Push { uint base[8];
#define DAE_PARAMS_END } p;

// What an epilogue adds to each result, as bits of a specialisation constant (vk_gemm.h,
// DAE_VK_EPI_*): gemm_tile.glsl's EPILOGUE and the Winograd output transform's. Not a
// parameter: lavapipe runs both sides of every branch under a lane mask, and a masked load
// still loops over the lanes, so runtime tests for a bias and for the old output cost the
// Winograd products a third of their time (doc/performance.md).
const uint EPI_BIAS = 1u;         // a bias per column (gemm.comp) or output channel (convs)
const uint EPI_ACCUMULATE = 2u;   // the old output (gemm.comp: times beta; conv dW: one split)
const uint EPI_BIAS_ROW = 4u;     // gemm.comp: a bias per row

// The workgroup width is specialisation constant 0. Shaders use DAE_LOCAL_X, never
// gl_WorkGroupSize: lavapipe (Mesa 22.3) does not specialise gl_WorkGroupSize.
#define DAE_LOCAL_SIZE_1D \
  layout(local_size_x_id = 0, local_size_y = 1, local_size_z = 1) in; \
  layout(constant_id = 0) const uint DAE_LOCAL_X = 64;

// Linear invocation index of a 1-D launch split by dae_vk_grid_1d into x/y groups.
#define dae_linear_id() \
  ((gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * DAE_LOCAL_X \
      + gl_LocalInvocationID.x)

// q = a / d for a, d < 2^24 with inv_d = 1/d: a float estimate corrected by one step, so
// that no integer division runs per element (lavapipe scalarises vector divisions).
uint dae_fast_div(uint a, uint d, float inv_d) {
  uint q = uint(float(a) * inv_d);
  q -= uint(q * d > a);
  q += uint((q + 1u) * d <= a);
  return q;
}

// Dropout mask, identical to dae_dropout_keep() in compute/ops/dae_ops.h.
uint dae_hash32(uint x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

bool dae_dropout_keep(uint seed, uint i, float prob) {
  uint r = dae_hash32(i ^ dae_hash32(seed)) >> 8;
  return float(r) >= prob * 16777216.0;
}

float dae_sigmoid(float x) { return 1.0 / (1.0 + exp(-x)); }
float dae_silu(float x) { return x / (1.0 + exp(-x)); }
float dae_silu_grad(float x) {
  float s = dae_sigmoid(x);
  return s * (1.0 + x * (1.0 - s));
}
