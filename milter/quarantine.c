/* quarantine.c - placeholder, being written */
#include "autoconf.h"
int quarantine_placeholder_;
