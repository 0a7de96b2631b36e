-- A few users and transactions to start from (the seed's app/ scripts generated synthetic ones).
-- For a larger shop, generate one: python -c "from shopflow.demo.shop import generate_shop; generate_shop(URL)".
INSERT INTO users (id, name, email, address, created_at, updated_at) VALUES
    (1, 'Ada Lovelace',   'Ada.Lovelace@Example.com', '12 St James''s Square, London', '2024-01-02 09:00+00', '2024-01-02 09:00+00'),
    (2, 'Alan Turing',    'alan.turing@example.com',  '78 High Street, Bletchley',      '2024-01-03 10:30+00', '2024-01-03 10:30+00'),
    (3, 'Grace Hopper',   'grace@example.org',        '1 Navy Yard, Arlington',         '2024-01-05 14:15+00', '2024-01-05 14:15+00'),
    (4, 'Edsger Dijkstra','EWD@example.nl',           'Plantage Muidergracht 12, Amsterdam', '2024-01-08 08:45+00', '2024-01-08 08:45+00');

INSERT INTO transactions (id, user_id, amount, status, created_at, updated_at) VALUES
    (1, 1,  25.00, 'completed', '2024-01-02 09:05+00', '2024-01-02 09:05+00'),
    (2, 1, 110.50, 'completed', '2024-01-04 16:20+00', '2024-01-04 16:20+00'),
    (3, 2,  12.99, 'pending',   '2024-01-03 11:00+00', '2024-01-03 11:00+00'),
    (4, 3,  79.00, 'failed',    '2024-01-06 12:00+00', '2024-01-06 12:00+00'),
    (5, 4,   5.25, 'completed', '2024-01-09 07:30+00', '2024-01-09 07:30+00');

SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users));
SELECT setval(pg_get_serial_sequence('transactions', 'id'), (SELECT max(id) FROM transactions));
