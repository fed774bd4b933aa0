/* ctl.h - placeholder */
