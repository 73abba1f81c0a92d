-- A least-privilege account for Sluice, and a small table with personal data.
CREATE ROLE sluice_reader LOGIN PASSWORD 'reader-password';
CREATE TABLE customers (id int PRIMARY KEY, name text, email text, ssn text);
INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com', '123-45-6789');
GRANT SELECT, INSERT, UPDATE, DELETE ON customers TO sluice_reader;
