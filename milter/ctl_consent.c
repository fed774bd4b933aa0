/* ctl_consent.c - placeholder, being written */
#include "autoconf.h"
int ctl_consent_placeholder_;
