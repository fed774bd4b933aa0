/* mlfi.h - placeholder */
