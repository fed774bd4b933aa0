/* addr.c - placeholder, being written */
#include "autoconf.h"
int addr_placeholder_;
