/* spf.h - placeholder */
