/* unsubd_pages.h - placeholder */
