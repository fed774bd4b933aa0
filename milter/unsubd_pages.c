/* unsubd_pages.c - placeholder, being written */
#include "autoconf.h"
int unsubd_pages_placeholder_;
