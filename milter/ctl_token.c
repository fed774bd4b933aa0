/* ctl_token.c - placeholder, being written */
#include "autoconf.h"
int ctl_token_placeholder_;
