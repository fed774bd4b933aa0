/* unsubd_http.h - placeholder */
