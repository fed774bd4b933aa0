/* secfile.c - placeholder, being written */
#include "autoconf.h"
int secfile_placeholder_;
