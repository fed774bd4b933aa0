/* dkimsign.c - placeholder, being written */
#include "autoconf.h"
int dkimsign_placeholder_;
