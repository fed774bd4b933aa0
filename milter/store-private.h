/* store-private.h - placeholder */
