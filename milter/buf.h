/* buf.h - placeholder */
