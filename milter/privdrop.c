/* privdrop.c - placeholder, being written */
#include "autoconf.h"
int privdrop_placeholder_;
