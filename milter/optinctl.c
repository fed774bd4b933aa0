/* optinctl.c - placeholder, being written */
#include "autoconf.h"
int main(void) { return 0; }
