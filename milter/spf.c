/* spf.c - placeholder, being written */
#include "autoconf.h"
int spf_placeholder_;
