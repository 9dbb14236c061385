/* Shared checks of the op wrappers (ops_*.c): every public op first checks the stream's
 * sticky error and its arguments, then runs the backend's implementation. */
#ifndef DAE_OPS_COMMON_H
#define DAE_OPS_COMMON_H

#include "core/dae_backend_impl.h"

/* True when the stream may run op `name` on tensors ts[0..n-1] (NULL entries are skipped):
 * no sticky error, all tensors on the stream's backend, and contiguous unless `views_ok`. */
bool dae_op_ready (DaeStream * s, const char *name, bool views_ok, int n,
    const DaeTensor * const *ts);

/* Fails the stream with "name: <message>" (DAE_ERR_INVALID); returns false. */
bool dae_op_fail (DaeStream * s, const char *name, const char *fmt, ...)
    __attribute__((format (printf, 3, 4)));

/* Checks that t is present with exactly shape (n,c,h,w); -1 matches any extent. */
bool dae_op_shape (DaeStream * s, const char *name, const char *what, const DaeTensor * t,
    int n, int c, int h, int w);

/* Wall-clock timing of CPU ops for DIFFAE_PROFILE (Vulkan ops are timed on the device). */
gint64 dae_op_timer_start (DaeStream * s);
void dae_op_timer_stop (DaeStream * s, const char *name, gint64 start);

#define DAE_TENSORS(...) \
  (sizeof ((const DaeTensor *[]) { __VA_ARGS__ }) / sizeof (const DaeTensor *)), \
  ((const DaeTensor *const[]) { __VA_ARGS__ })

/* Runs the backend's implementation `fn` of op `name`, or fails the stream if it has none. */
#define DAE_OP_RUN(s, opname, fn, ...) \
  do { \
    const DaeOpsTable *ops_ = (s)->be->klass->ops; \
    if (!ops_->fn) { \
      dae_op_fail ((s), (opname), "not implemented on the %s backend", (s)->be->klass->name); \
      return; \
    } \
    gint64 t0_ = dae_op_timer_start (s); \
    ops_->fn ((s), __VA_ARGS__); \
    dae_op_timer_stop ((s), (opname), t0_); \
  } while (0)

#endif
