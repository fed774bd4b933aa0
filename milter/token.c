/* token.c - placeholder, being written */
#include "autoconf.h"
int token_placeholder_;
