/* buf.c - placeholder, being written */
#include "autoconf.h"
int buf_placeholder_;
