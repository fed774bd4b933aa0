/* unsubd_http.c - placeholder, being written */
#include "autoconf.h"
int unsubd_http_placeholder_;
