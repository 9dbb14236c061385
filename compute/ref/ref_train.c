#include "ref_train.h"
