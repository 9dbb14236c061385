/* Per-op time table for DIFFAE_PROFILE=1: GPU time from Vulkan timestamps, wall time on the
 * CPU backend. */
#include "dae_backend_impl.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *name;
  guint64 count;
  double seconds;
} ProfileRow;

static GMutex lock;
static GHashTable *rows;            /* name -> ProfileRow* */
static gint enabled = -1;           /* -1: not yet read from the environment */

bool
dae_profile_enabled (void)
{
  int e = g_atomic_int_get (&enabled);
  if (e < 0) {
    const char *v = g_getenv ("DIFFAE_PROFILE");
    e = v && strcmp (v, "0") != 0 && *v;
    g_atomic_int_set (&enabled, e);
  }
  return e;
}

void
dae_profile_enable (bool on)
{
  g_atomic_int_set (&enabled, on ? 1 : 0);
}

void
dae_profile_add (const char *name, double seconds)
{
  g_mutex_lock (&lock);
  if (!rows)
    rows = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, free);
  ProfileRow *r = g_hash_table_lookup (rows, name);
  if (!r) {
    r = calloc (1, sizeof *r);
    r->name = g_intern_string (name);
    g_hash_table_insert (rows, (gpointer) r->name, r);
  }
  r->count++;
  r->seconds += seconds;
  g_mutex_unlock (&lock);
}

static gint
by_time (gconstpointer a, gconstpointer b)
{
  const ProfileRow *x = *(ProfileRow * const *) a, *y = *(ProfileRow * const *) b;
  return (x->seconds < y->seconds) - (x->seconds > y->seconds);
}

void
dae_profile_report (FILE * out)
{
  g_mutex_lock (&lock);
  if (!rows || g_hash_table_size (rows) == 0) {
    g_mutex_unlock (&lock);
    return;
  }
  GPtrArray *list = g_ptr_array_new ();
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, rows);
  while (g_hash_table_iter_next (&it, NULL, &value))
    g_ptr_array_add (list, value);
  g_ptr_array_sort (list, by_time);
  double total = 0;
  for (guint i = 0; i < list->len; i++)
    total += ((ProfileRow *) g_ptr_array_index (list, i))->seconds;
  fprintf (out, "%-28s %10s %12s %10s %7s\n", "op", "calls", "total ms", "mean us", "share");
  for (guint i = 0; i < list->len; i++) {
    ProfileRow *r = g_ptr_array_index (list, i);
    fprintf (out, "%-28s %10llu %12.3f %10.1f %6.1f%%\n", r->name,
        (unsigned long long) r->count, r->seconds * 1e3, r->seconds * 1e6 / r->count,
        total > 0 ? 100.0 * r->seconds / total : 0.0);
  }
  fprintf (out, "%-28s %10s %12.3f\n", "total", "", total * 1e3);
  g_ptr_array_free (list, TRUE);
  g_mutex_unlock (&lock);
}

void
dae_profile_reset (void)
{
  g_mutex_lock (&lock);
  if (rows)
    g_hash_table_remove_all (rows);
  g_mutex_unlock (&lock);
}
