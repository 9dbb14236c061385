#include "ref_diffusion.h"
