/* consent.c - placeholder, being written */
#include "autoconf.h"
int consent_placeholder_;
