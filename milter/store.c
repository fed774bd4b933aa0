/* store.c - placeholder, being written */
#include "autoconf.h"
int store_placeholder_;
