#include "harness.h"
static void t_none(void **s) { (void)s; }
int main(void) { const struct CMUnitTest tests[] = { cmocka_unit_test(t_none) }; return HARNESS_RUN("addr", tests); }
