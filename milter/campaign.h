/* campaign.h - placeholder */
