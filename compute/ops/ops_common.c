#include "ops_common.h"

#include <stdio.h>

bool
dae_op_fail (DaeStream * s, const char *name, const char *fmt, ...)
{
  char msg[DAE_ERROR_MESSAGE_MAX];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  dae_stream_fail (s, DAE_ERR_INVALID, "%s: %s", name, msg);
  return false;
}

bool
dae_op_ready (DaeStream * s, const char *name, bool views_ok, int n,
    const DaeTensor * const *ts)
{
  if (s->error.code)
    return false;
  for (int i = 0; i < n; i++) {
    const DaeTensor *t = ts[i];
    if (!t)
      continue;
    if (!t->storage)
      return dae_op_fail (s, name, "argument %d has no storage", i);
    if (t->storage->be != s->be)
      return dae_op_fail (s, name, "argument %d lives on another backend", i);
    if (!views_ok && !dae_tensor_is_contiguous (t))
      return dae_op_fail (s, name, "argument %d must be contiguous", i);
  }
  return true;
}

bool
dae_op_shape (DaeStream * s, const char *name, const char *what, const DaeTensor * t, int n,
    int c, int h, int w)
{
  char got[64];
  if (!t)
    return dae_op_fail (s, name, "%s is missing", what);
  if ((n >= 0 && t->n != n) || (c >= 0 && t->c != c) || (h >= 0 && t->h != h) ||
      (w >= 0 && t->w != w))
    return dae_op_fail (s, name, "%s has shape %s, expected %dx%dx%dx%d (-1: any)", what,
        dae_tensor_shape_str (t, got, sizeof got), n, c, h, w);
  return true;
}

gint64
dae_op_timer_start (DaeStream * s)
{
  return (dae_profile_enabled () && s->be->kind == DAE_BACKEND_CPU) ? g_get_monotonic_time () : 0;
}

void
dae_op_timer_stop (DaeStream * s, const char *name, gint64 start)
{
  (void) s;
  if (start)
    dae_profile_add (name, (g_get_monotonic_time () - start) * 1e-6);
}
