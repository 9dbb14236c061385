/* Error reporting for libdiffae.
 *
 * Every fallible call returns a DaeStatus and, when the caller passes a DaeError,
 * fills it with a message a user can act on. The library never aborts the host
 * process: GPU failures, bad files and bad arguments all come back this way. */
#ifndef DAE_ERROR_H
#define DAE_ERROR_H

#include <stdarg.h>

typedef enum {
  DAE_OK = 0,
  DAE_ERR_INVALID,        /* bad argument, shape mismatch, unsupported request */
  DAE_ERR_NO_DEVICE,      /* no Vulkan loader, no device, or the requested device is absent */
  DAE_ERR_DEVICE,         /* any other Vulkan failure (no compute queue, pipeline creation, ...) */
  DAE_ERR_DEVICE_LOST,    /* the device was lost during work; the backend is unusable afterwards */
  DAE_ERR_OUT_OF_MEMORY,  /* host or device allocation failed */
  DAE_ERR_IO,             /* a file could not be read or written */
  DAE_ERR_FORMAT,         /* a file or buffer is malformed */
  DAE_ERR_VALIDATION,     /* the Vulkan validation layer reported a message (tests only) */
  DAE_ERR_INTERRUPTED,    /* stopped on request (signal) */
} DaeStatus;

#define DAE_ERROR_MESSAGE_MAX 1024

typedef struct {
  DaeStatus code;
  char message[DAE_ERROR_MESSAGE_MAX];
} DaeError;

/* Returns code. Writes the message into err when err is non-NULL and does not yet hold an
 * error (the first error is usually the cause; later ones are consequences). */
DaeStatus dae_error_set (DaeError * err, DaeStatus code, const char *fmt, ...)
    __attribute__((format (printf, 3, 4)));
DaeStatus dae_error_setv (DaeError * err, DaeStatus code, const char *fmt, va_list ap);

/* Copies src into dst (when dst is non-NULL and still clear). Returns src->code. */
DaeStatus dae_error_propagate (DaeError * dst, const DaeError * src);

void dae_error_clear (DaeError * err);

/* Prefixes the message already in err with "prefix: " (for adding a file name). */
void dae_error_prefix (DaeError * err, const char *fmt, ...)
    __attribute__((format (printf, 2, 3)));

const char *dae_status_name (DaeStatus code);

#endif
