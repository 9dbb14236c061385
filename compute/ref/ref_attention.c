#include "ref_attention.h"
