#include "train/init.h"
#include "diffae.h"

#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool
is_zero_init (const char *name)
{
  return strstr (name, ".out_layers.3.") || strstr (name, ".proj_out.") ||
      g_str_has_prefix (name, "out.2.");
}

/* Latent-net weights that feed a SiLU: every layer but the last (linear and linear_emb). */
static bool
is_kaiming_normal (const DaeParamList * list, const DaeParamSpec * s)
{
  if (s->net != DAE_PARAM_NET_LATENT || !g_str_has_prefix (s->name, "latent_net.layers.") ||
      !g_str_has_suffix (s->name, ".weight") || strstr (s->name, ".norm."))
    return false;
  int layer = atoi (s->name + strlen ("latent_net.layers."));
  return layer < dae_param_list_config (list)->latent.num_layers - 1;
}

/* The fan-in of the weight that goes with parameter i (itself, or the weight before a bias). */
static size_t
fan_in (const DaeParamList * list, const DaeParamSpec * s)
{
  const DaeParamSpec *w = s;
  if (g_str_has_suffix (s->name, ".bias")) {
    char *wname = g_strndup (s->name, strlen (s->name) - strlen ("bias"));
    char *full = g_strconcat (wname, "weight", NULL);
    int idx = dae_param_list_find (list, full);
    w = idx >= 0 ? dae_param_list_get (list, (size_t) idx) : s;
    g_free (wname);
    g_free (full);
  }
  return w->ndim >= 2 ? w->numel / (size_t) w->dims[0] : 0;
}

static void
init_one (const DaeParamList * list, const DaeParamSpec * s, uint64_t seed, size_t index,
    float *v)
{
  size_t fi = fan_in (list, s);
  if (is_zero_init (s->name) || (fi == 0 && g_str_has_suffix (s->name, ".bias"))) {
    memset (v, 0, s->numel * sizeof *v);       /* zero modules; norm biases */
  } else if (fi == 0) {
    for (size_t i = 0; i < s->numel; i++)     /* norm weights */
      v[i] = 1.0f;
  } else if (is_kaiming_normal (list, s)) {
    dae_gaussian_noise (seed, 1000 + index, v, s->numel);
    float std = sqrtf (2.0f / (float) fi);
    for (size_t i = 0; i < s->numel; i++)
      v[i] *= std;
  } else {
    /* U(-b, b) from the Gaussian generator's uniform stream: map normals through erf. */
    float bound = 1.0f / sqrtf ((float) fi);
    dae_gaussian_noise (seed, 1000 + index, v, s->numel);
    for (size_t i = 0; i < s->numel; i++)
      v[i] = bound * (float) erf (v[i] / M_SQRT2);
  }
}

void
dae_init_params (const DaeParamList * list, DaeParamNet net, uint64_t seed, float *values)
{
  size_t count = dae_param_list_count (list);
  for (size_t i = 0; i < count; i++) {
    const DaeParamSpec *s = dae_param_list_get (list, i);
    if (net == DAE_PARAM_NET_ALL || s->net == net)
      init_one (list, s, seed, i, values + s->offset);
  }
}
