/* resubmit.c - placeholder, being written */
#include "autoconf.h"
int resubmit_placeholder_;
