/* privdrop.h - placeholder */
