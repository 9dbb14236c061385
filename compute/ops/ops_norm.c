/* GroupNorm and LayerNorm with their fused modulation: argument checks. */
#include "ops_common.h"

static bool
check_groupnorm (DaeStream * s, const char *name, const DaeTensor * y, const DaeTensor * stats,
    const DaeTensor * x, const DaeGroupNormArgs * a)
{
  if (!y || !x || !a || !stats)
    return dae_op_fail (s, name, "missing tensor");
  if (a->groups <= 0 || x->c % a->groups != 0)
    return dae_op_fail (s, name, "%d channels do not split into %d groups", x->c, a->groups);
  if (!(a->dropout >= 0.0f && a->dropout < 1.0f))
    return dae_op_fail (s, name, "dropout %g is outside [0, 1)", a->dropout);
  return dae_op_shape (s, name, "y", y, x->n, x->c, x->h, x->w) &&
      dae_op_shape (s, name, "stats", stats, x->n, a->groups, 2, 1) &&
      dae_op_shape (s, name, "gamma", a->gamma, 1, x->c, 1, 1) &&
      dae_op_shape (s, name, "beta", a->beta, 1, x->c, 1, 1) &&
      (!a->scaleshift || dae_op_shape (s, name, "scaleshift", a->scaleshift, x->n, 2 * x->c, 1,
              1)) && (!a->zscale || dae_op_shape (s, name, "zscale", a->zscale, x->n, x->c, 1, 1));
}

void
dae_groupnorm_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * stats,
    const DaeTensor * x, const DaeGroupNormArgs * a)
{
  const char *name = "groupnorm_forward";
  if (a && dae_op_ready (s, name, false, DAE_TENSORS (y, stats, x, a->gamma, a->beta,
              a->scaleshift, a->zscale)) && check_groupnorm (s, name, y, stats, x, a))
    DAE_OP_RUN (s, name, groupnorm_forward, y, stats, x, a);
}

void
dae_groupnorm_backward (DaeStream * s, const DaeTensor * dx, const DaeGroupNormGrads * g,
    const DaeTensor * dy, const DaeTensor * x, const DaeTensor * stats,
    const DaeGroupNormArgs * a)
{
  const char *name = "groupnorm_backward";
  static const DaeGroupNormGrads none;
  if (!g)
    g = &none;
  if (a && dae_op_ready (s, name, false, DAE_TENSORS (dx, dy, x, stats, a->gamma, a->beta,
              a->scaleshift, a->zscale, g->dgamma, g->dbeta, g->dscaleshift, g->dzscale)) &&
      check_groupnorm (s, name, dy, stats, x, a)) {
    if ((dx && !dae_tensor_same_shape (dx, x)) ||
        (g->dgamma && !dae_tensor_same_shape (g->dgamma, a->gamma)) ||
        (g->dbeta && !dae_tensor_same_shape (g->dbeta, a->beta)) ||
        (g->dscaleshift && (!a->scaleshift ||
                !dae_tensor_same_shape (g->dscaleshift, a->scaleshift))) ||
        (g->dzscale && (!a->zscale || !dae_tensor_same_shape (g->dzscale, a->zscale)))) {
      dae_op_fail (s, name, "a gradient's shape differs from its tensor's");
      return;
    }
    DAE_OP_RUN (s, name, groupnorm_backward, dx, g, dy, x, stats, a);
  }
}

static bool
check_layernorm (DaeStream * s, const char *name, const DaeTensor * y, const DaeTensor * stats,
    const DaeTensor * x, const DaeLayerNormArgs * a)
{
  if (!y || !x || !a || !stats)
    return dae_op_fail (s, name, "missing tensor");
  if (!(a->dropout >= 0.0f && a->dropout < 1.0f))
    return dae_op_fail (s, name, "dropout %g is outside [0, 1)", a->dropout);
  return dae_op_shape (s, name, "x", x, -1, -1, 1, 1) &&
      dae_op_shape (s, name, "y", y, x->n, x->c, 1, 1) &&
      dae_op_shape (s, name, "stats", stats, x->n, 1, 2, 1) &&
      dae_op_shape (s, name, "gamma", a->gamma, 1, x->c, 1, 1) &&
      dae_op_shape (s, name, "beta", a->beta, 1, x->c, 1, 1) &&
      (!a->prescale || dae_op_shape (s, name, "prescale", a->prescale, x->n, x->c, 1, 1));
}

void
dae_layernorm_forward (DaeStream * s, const DaeTensor * y, const DaeTensor * stats,
    const DaeTensor * x, const DaeLayerNormArgs * a)
{
  const char *name = "layernorm_forward";
  if (a && dae_op_ready (s, name, false, DAE_TENSORS (y, stats, x, a->gamma, a->beta,
              a->prescale)) && check_layernorm (s, name, y, stats, x, a))
    DAE_OP_RUN (s, name, layernorm_forward, y, stats, x, a);
}

void
dae_layernorm_backward (DaeStream * s, const DaeTensor * dx, const DaeLayerNormGrads * g,
    const DaeTensor * dy, const DaeTensor * x, const DaeTensor * stats,
    const DaeLayerNormArgs * a)
{
  const char *name = "layernorm_backward";
  static const DaeLayerNormGrads none;
  if (!g)
    g = &none;
  if (a && dae_op_ready (s, name, false, DAE_TENSORS (dx, dy, x, stats, a->gamma, a->beta,
              a->prescale, g->dgamma, g->dbeta, g->dprescale)) &&
      check_layernorm (s, name, dy, stats, x, a)) {
    if ((dx && !dae_tensor_same_shape (dx, x)) ||
        (g->dgamma && !dae_tensor_same_shape (g->dgamma, a->gamma)) ||
        (g->dbeta && !dae_tensor_same_shape (g->dbeta, a->beta)) ||
        (g->dprescale && (!a->prescale || !dae_tensor_same_shape (g->dprescale, a->prescale)))) {
      dae_op_fail (s, name, "a gradient's shape differs from its tensor's");
      return;
    }
    DAE_OP_RUN (s, name, layernorm_backward, dx, g, dy, x, stats, a);
  }
}
