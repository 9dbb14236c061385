#include "ref_norm.h"
