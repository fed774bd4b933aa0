/* unsubhdr.c - placeholder, being written */
#include "autoconf.h"
int unsubhdr_placeholder_;
