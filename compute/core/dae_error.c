#include "dae_error.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>

DaeStatus
dae_error_setv (DaeError * err, DaeStatus code, const char *fmt, va_list ap)
{
  if (err && err->code == DAE_OK && code != DAE_OK) {
    err->code = code;
    vsnprintf (err->message, sizeof err->message, fmt, ap);
  }
  return code;
}

DaeStatus
dae_error_set (DaeError * err, DaeStatus code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  dae_error_setv (err, code, fmt, ap);
  va_end (ap);
  return code;
}

DaeStatus
dae_error_propagate (DaeError * dst, const DaeError * src)
{
  if (src->code != DAE_OK)
    dae_error_set (dst, src->code, "%s", src->message);
  return src->code;
}

void
dae_error_clear (DaeError * err)
{
  if (err) {
    err->code = DAE_OK;
    err->message[0] = '\0';
  }
}

void
dae_error_prefix (DaeError * err, const char *fmt, ...)
{
  if (!err || err->code == DAE_OK)
    return;
  char prefix[DAE_ERROR_MESSAGE_MAX / 2];
  char old[DAE_ERROR_MESSAGE_MAX];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (prefix, sizeof prefix, fmt, ap);
  va_end (ap);
  memcpy (old, err->message, sizeof old);
  g_snprintf (err->message, sizeof err->message, "%s: %s", prefix, old);
}

const char *
dae_status_name (DaeStatus code)
{
  switch (code) {
    case DAE_OK: return "ok";
    case DAE_ERR_INVALID: return "invalid argument";
    case DAE_ERR_NO_DEVICE: return "no device";
    case DAE_ERR_DEVICE: return "device error";
    case DAE_ERR_DEVICE_LOST: return "device lost";
    case DAE_ERR_OUT_OF_MEMORY: return "out of memory";
    case DAE_ERR_IO: return "i/o error";
    case DAE_ERR_FORMAT: return "bad format";
    case DAE_ERR_VALIDATION: return "validation message";
    case DAE_ERR_INTERRUPTED: return "interrupted";
  }
  return "unknown error";
}
