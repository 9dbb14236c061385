#include "ref_basic.h"
