-- fixture.sql - consent data for the miltertest scripts, loaded by run.sh
-- (db_load of tests/lib/db.sh) after optinctl init on either engine: plain
-- INSERTs with their columns named.  Times are fixed.
INSERT INTO lists (list_id, name, double_opt_in, created_at)
    VALUES ('news', 'Newsletter', 0, 1700000000);
INSERT INTO lists (list_id, name, double_opt_in, created_at)
    VALUES ('promo', 'Promotions', 1, 1700000000);
INSERT INTO subscriptions (address, list_id, status, source, updated_at)
    VALUES ('ann@example.com', 'news', 'opted_in', 'test', 1700000000);
INSERT INTO subscriptions (address, list_id, status, source, updated_at)
    VALUES ('bob@example.com', 'news', 'opted_out', 'test', 1700000000);
INSERT INTO subscriptions (address, list_id, status, source, updated_at)
    VALUES ('carol@example.com', 'news', 'pending', 'test', 1700000000);
INSERT INTO subscriptions (address, list_id, status, source, updated_at)
    VALUES ('eve@example.com', 'news', 'opted_in', 'test', 1700000000);
INSERT INTO subscriptions (address, list_id, status, source, updated_at)
    VALUES ('frank@example.com', 'news', 'opted_in', 'test', 1700000000);
INSERT INTO subscriptions (address, list_id, status, source, updated_at)
    VALUES ('gina@xn--bcher-kva.example', 'news', 'opted_in', 'test',
    1700000000);
INSERT INTO suppressions (address, reason, created_at)
    VALUES ('eve@example.com', 'unsubscribed_all', 1700000000);
