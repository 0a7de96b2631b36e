-- A day of the shop's life (the seed's dailydataload.py): one new user, one new transaction,
-- a pending payment that completed and a customer who moved. The trigger stamps updated_at.
INSERT INTO users (name, email, address) VALUES ('Barbara Liskov', 'Liskov@Example.edu', '32 Vassar Street, Cambridge');
INSERT INTO transactions (user_id, amount, status) VALUES (2, 42.00, 'completed');
UPDATE transactions SET status = 'completed' WHERE id = 3;
UPDATE users SET address = '9 Wilmslow Road, Manchester' WHERE id = 2;
