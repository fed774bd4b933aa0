/* campaign.c - placeholder, being written */
#include "autoconf.h"
int campaign_placeholder_;
