#include "ref_gemm.h"
