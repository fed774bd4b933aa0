/* store_sqlite.c - placeholder, being written */
#include "autoconf.h"
int store_sqlite_placeholder_;
