/* diffae-train edit: attribute edits of held-out images, written as PNGs for measurement.
 *
 * Each image is inverted (z_sem and x_T with --ddim-steps steps), decoded unchanged
 * (OUT/recon/NNNNNN.png) and decoded after moving z_sem along every attribute direction of
 * the model by each strength of --strengths, both ways (OUT/ATTR/+S/NNNNNN.png and
 * OUT/ATTR/-S/NNNNNN.png), always with the image's own inverted x_T. OUT/edits.json lists what
 * was written. A measurement of the pixels (tools/edit_success.py for the shapes data) then
 * says whether each edit moved the image the intended way, compared with its reconstruction. */
#include "commands.h"
#include "image_io.h"
#include "setup.h"
#include "util.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "io/json.h"

#define MAX_STRENGTHS 8

typedef struct {
  TrArgs *a;
  DaeBackend *be;
  DaeModel *m;
  DaeSession *s;
  DaeModelInfo info;
  TrData data;
  float strengths[MAX_STRENGTHS];
  int n_strengths, n_images, batch, steps;
  size_t per;
} Edit;

static DaeStatus
parse_strengths (Edit * e, DaeError * err)
{
  char **parts = g_strsplit (e->a->strengths ? e->a->strengths : "0.5,1", ",", -1);
  DaeStatus st = DAE_OK;
  for (int i = 0; parts[i] && st == DAE_OK; i++) {
    char *end;
    double v = g_ascii_strtod (parts[i], &end);
    if (*end || !(v > 0) || e->n_strengths == MAX_STRENGTHS)
      st = dae_error_set (err, DAE_ERR_INVALID,
          "--strengths: \"%s\" is not a positive number (at most %d of them)", parts[i],
          MAX_STRENGTHS);
    else
      e->strengths[e->n_strengths++] = (float) v;
  }
  g_strfreev (parts);
  return st;
}

/* OUT/dir/NNNNNN.png for image index idx of the held-out set. */
static DaeStatus
save_image (Edit * e, const char *dir, int idx, const float *chw, DaeError * err)
{
  char *folder = tr_out_path (e->a, dir), name[32];
  g_mkdir_with_parents (folder, 0755);
  g_snprintf (name, sizeof name, "%06d.png", idx);
  char *path = g_build_filename (folder, name, NULL);
  int size = e->info.image_size, c = e->info.channels;
  guint8 *pixels = g_new (guint8, (size_t) size * size * c);
  dae_float_to_pixels (chw, c, size, c == 1 ? DAE_PIXELS_GRAY8 : DAE_PIXELS_RGB, size * c,
      pixels);
  DaeStatus st = tr_png_save (path, pixels, size, size, c, err);
  g_free (pixels);
  g_free (path);
  g_free (folder);
  return st;
}

/* Decodes z (one per image of the batch) with the batch's x_T and saves the first count. */
static DaeStatus
decode_and_save (Edit * e, const float *z, const float *xt, const int *idx, int count,
    const char *dir, DaeError * err)
{
  float *out = g_new (float, e->per * e->batch);
  DaeStatus st = dae_decode (e->s, e->batch, z, xt, e->steps, out, err);
  for (int i = 0; i < count && st == DAE_OK; i++)
    st = save_image (e, dir, idx[i], out + e->per * i, err);
  g_free (out);
  return st;
}

/* Every attribute, strength and sign for one batch of inverted images. */
static DaeStatus
edit_batch (Edit * e, const float *z, const float *xt, const int *idx, int count,
    DaeError * err)
{
  int zc = e->info.z_channels;
  float *edited = g_new (float, (size_t) e->batch * zc);
  DaeStatus st = decode_and_save (e, z, xt, idx, count, "recon", err);
  for (int a = 0; a < e->info.n_attributes && st == DAE_OK; a++) {
    const char *name = dae_model_attribute (e->m, a);
    for (int k = 0; k < 2 * e->n_strengths && st == DAE_OK; k++) {
      float strength = (k % 2 ? -1.0f : 1.0f) * e->strengths[k / 2];
      for (int i = 0; i < e->batch && st == DAE_OK; i++)
        st = dae_edit (e->m, z + (size_t) i * zc, 1, &name, &strength,
            edited + (size_t) i * zc, err);
      char dir[256];
      g_snprintf (dir, sizeof dir, "%s/%+g", name, strength);
      if (st == DAE_OK)
        st = decode_and_save (e, edited, xt, idx, count, dir, err);
    }
  }
  g_free (edited);
  return st;
}

static DaeStatus
run_batches (Edit * e, DaeError * err)
{
  int b = e->batch, zc = e->info.z_channels;
  float *x = g_new (float, e->per * b), *xt = g_new (float, e->per * b);
  float *z = g_new (float, (size_t) b * zc);
  int *idx = g_new (int, b);
  DaeStatus st = DAE_OK;
  for (int first = 0; first < e->n_images && st == DAE_OK; first += b) {
    int count = MIN (b, e->n_images - first);
    for (int i = 0; i < b; i++) {       /* the last batch is padded with its last image */
      idx[i] = e->data.test[first + MIN (i, count - 1)];
      tr_image_set_get (e->data.test_set, idx[i], x + e->per * i);
    }
    st = dae_encode (e->s, b, x, z, e->steps, xt, err);
    if (st == DAE_OK)
      st = edit_batch (e, z, xt, idx, count, err);
    printf ("edit: %d/%d images\n", first + count, e->n_images);
  }
  g_free (x);
  g_free (xt);
  g_free (z);
  g_free (idx);
  return st;
}

static DaeStatus
write_index (Edit * e, DaeError * err)
{
  GString *j = g_string_new ("{\n  \"model\": ");
  dae_json_append_string (j, e->a->model);
  g_string_append_printf (j, ",\n  \"model_id\": \"%s\",\n  \"ddim_steps\": %d,\n"
      "  \"strengths\": [", dae_model_id (e->m), e->steps);
  for (int i = 0; i < e->n_strengths; i++) {
    g_string_append (j, i ? ", " : "");
    dae_json_append_double (j, e->strengths[i]);
  }
  g_string_append (j, "],\n  \"attributes\": [");
  for (int a = 0; a < e->info.n_attributes; a++) {
    g_string_append (j, a ? ", " : "");
    dae_json_append_string (j, dae_model_attribute (e->m, a));
  }
  g_string_append (j, "],\n  \"images\": {");
  for (int i = 0; i < e->n_images; i++) {
    int idx = e->data.test[i];
    g_string_append_printf (j, "%s\n    \"%06d\": ", i ? "," : "", idx);
    const char *src = e->data.test_set->names ? e->data.test_set->names[idx] : "";
    dae_json_append_string (j, src);
  }
  g_string_append (j, "\n  }\n}\n");
  char *path = tr_out_path (e->a, "edits.json");
  DaeStatus st = tr_write_text (path, j->str, err);
  g_free (path);
  g_string_free (j, TRUE);
  return st;
}

static DaeStatus
run (Edit * e, DaeError * err)
{
  TrArgs *a = e->a;
  if (!a->model || !a->out)
    return dae_error_set (err, DAE_ERR_INVALID, "--model and --out are required");
  if (parse_strengths (e, err) != DAE_OK || tr_out_make (a, err) != DAE_OK ||
      tr_args_open_backend (a, &e->be, err) != DAE_OK ||
      dae_model_load (e->be, a->model, &e->m, err) != DAE_OK ||
      dae_session_new (e->m, &e->s, err) != DAE_OK)
    return err->code;
  dae_model_info (e->m, &e->info);
  if (e->info.n_attributes == 0 || !e->info.has_latent_stats)
    return dae_error_set (err, DAE_ERR_INVALID,
        "%s has no attribute directions or latent statistics (run classify first)", a->model);
  if (tr_data_open (a, e->info.image_size, e->info.channels, &e->data, err) != DAE_OK)
    return err->code;
  e->n_images = MIN (TR_OR (a->n_images, -1, 100), e->data.n_test);
  e->batch = MAX (1, MIN (TR_OR (a->batch, -1, 32), e->n_images));
  e->steps = TR_OR (a->ddim_steps, -1, 50);
  e->per = tr_image_set_image_floats (e->data.test_set);
  if (e->n_images < 1)
    return dae_error_set (err, DAE_ERR_INVALID, "no held-out images: give --holdout or --test");
  return run_batches (e, err) == DAE_OK ? write_index (e, err) : err->code;
}

int
tr_cmd_edit (TrArgs * a)
{
  DaeError err = { 0 };
  Edit e = {.a = a };
  DaeStatus st = run (&e, &err);
  if (st != DAE_OK)
    tr_print_error (&err);
  tr_data_clear (&e.data);
  dae_session_free (e.s);
  if (e.m)
    dae_model_unref (e.m);
  if (e.be)
    dae_backend_unref (e.be);
  return st == DAE_OK ? 0 : 1;
}
