/* resubmit.h - placeholder */
