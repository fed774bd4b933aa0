/* session.c - placeholder, being written */
#include "autoconf.h"
int session_placeholder_;
