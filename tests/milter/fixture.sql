-- fixture.sql - consent data for the miltertest scripts.  Times are fixed.
INSERT INTO lists VALUES ('news', 'Newsletter', 0, 1700000000);
INSERT INTO lists VALUES ('promo', 'Promotions', 1, 1700000000);
INSERT INTO subscriptions VALUES ('ann@example.com', 'news', 'opted_in', 'test', 1700000000);
INSERT INTO subscriptions VALUES ('bob@example.com', 'news', 'opted_out', 'test', 1700000000);
INSERT INTO subscriptions VALUES ('carol@example.com', 'news', 'pending', 'test', 1700000000);
INSERT INTO subscriptions VALUES ('eve@example.com', 'news', 'opted_in', 'test', 1700000000);
INSERT INTO subscriptions VALUES ('frank@example.com', 'news', 'opted_in', 'test', 1700000000);
INSERT INTO subscriptions VALUES ('gina@xn--bcher-kva.example', 'news', 'opted_in', 'test', 1700000000);
INSERT INTO suppressions VALUES ('eve@example.com', 'unsubscribed_all', 1700000000);
