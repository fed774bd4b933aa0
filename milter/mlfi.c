/* mlfi.c - placeholder, being written */
#include "autoconf.h"
int mlfi_placeholder_;
