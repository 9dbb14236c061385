#include "util.h"
#include "model/config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static uint64_t
mix64 (uint64_t x)
{
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x;
}

uint64_t
tr_hash3 (uint64_t a, uint64_t b, uint64_t c)
{
  return mix64 (mix64 (mix64 (a + 0x9E3779B97F4A7C15ull) ^ b) ^ c);
}

uint64_t
tr_rng_next (TrRng * r)
{
  r->state += 0x9E3779B97F4A7C15ull;
  return mix64 (r->state);
}

uint32_t
tr_rng_below (TrRng * r, uint32_t n)
{
  /* Rejection keeps every value equally likely, so the shuffle is unbiased. */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do
    x = tr_rng_next (r);
  while (x >= limit);
  return (uint32_t) (x % n);
}

void
tr_permutation (TrRng * r, int *perm, int n)
{
  for (int i = 0; i < n; i++)
    perm[i] = i;
  for (int i = n - 1; i > 0; i--) {
    int j = (int) tr_rng_below (r, (uint32_t) i + 1);
    int tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
  }
}

char *
tr_format_duration (double seconds, char *buf, size_t len)
{
  long s = seconds > 0 && seconds < 1e9 ? (long) (seconds + 0.5) : 0;
  if (s >= 3600)
    g_snprintf (buf, len, "%ldh%02ldm", s / 3600, s / 60 % 60);
  else if (s >= 60)
    g_snprintf (buf, len, "%ldm%02lds", s / 60, s % 60);
  else
    g_snprintf (buf, len, "%lds", s);
  return buf;
}

char *
tr_read_text (const char *path, DaeError * err)
{
  char *text = NULL;
  GError *gerr = NULL;
  if (!g_file_get_contents (path, &text, NULL, &gerr)) {
    dae_error_set (err, DAE_ERR_IO, "%s", gerr->message);
    g_error_free (gerr);
    return NULL;
  }
  return text;
}

DaeStatus
tr_write_text (const char *path, const char *text, DaeError * err)
{
  char *tmp = g_strdup_printf ("%s.tmp-XXXXXX", path);
  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0644);
  size_t len = strlen (text);
  bool ok = fd >= 0 && write (fd, text, len) == (ssize_t) len && fsync (fd) == 0;
  int saved = errno;
  if (fd >= 0)
    ok = close (fd) == 0 && ok;
  ok = ok && rename (tmp, path) == 0;
  if (!ok) {
    if (fd >= 0)
      g_unlink (tmp);
    g_free (tmp);
    return dae_error_set (err, DAE_ERR_IO, "%s: cannot write: %s", path, g_strerror (saved));
  }
  g_free (tmp);
  return DAE_OK;
}

char *
tr_config_text (const char *arg, DaeError * err)
{
  for (const char *const *p = dae_model_config_preset_names (); *p; p++)
    if (strcmp (*p, arg) == 0)
      return g_strdup (arg);
  if (!g_file_test (arg, G_FILE_TEST_EXISTS)) {
    GString *names = g_string_new ("");
    for (const char *const *p = dae_model_config_preset_names (); *p; p++)
      g_string_append_printf (names, "%s%s", names->len ? ", " : "", *p);
    dae_error_set (err, DAE_ERR_INVALID,
        "config %s is neither a preset (%s) nor a JSON file", arg, names->str);
    g_string_free (names, TRUE);
    return NULL;
  }
  char *text = tr_read_text (arg, err);
  if (text)
    g_strstrip (text);
  return text;
}

void
tr_print_error (const DaeError * err)
{
  fprintf (stderr, "diffae-train: %s\n", err->message[0] ? err->message : "failed");
}
