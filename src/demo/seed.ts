/**
 * The demo's shop: customers with obvious personal data (email, phone, card number) and their
 * orders. Card numbers are the well-known test numbers of the card networks (they pass Luhn).
 */
const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Radia', 'John'];
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Allen',
  'Thompson',
  'Perlman',
  'Backus',
];
const CITIES = [
  'London',
  'New York',
  'Manchester',
  'Rotterdam',
  'Boston',
  'Stanford',
  'Pittsburgh',
  'Berkeley',
];
const CARDS = [
  '4111111111111111',
  '5555555555554444',
  '378282246310005',
  '6011111111111117',
  '4012888888881881',
];
const STATUSES = ['paid', 'shipped', 'delivered', 'refunded'];

export const SHOP_SCHEMA = `
CREATE TABLE customers (
  id          integer PRIMARY KEY,
  name        text NOT NULL,
  email       text NOT NULL,
  phone       text,
  card_number text,
  city        text,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE orders (
  id          integer PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES customers(id),
  amount      numeric(10,2) NOT NULL,
  status      text NOT NULL,
  ordered_at  timestamptz NOT NULL
);
CREATE VIEW customer_contacts AS SELECT id, name, email, phone FROM customers;
`;

/** INSERT statements for `customers` customers and about three orders each. */
export function shopRows(customers = 20): string {
  const lines: string[] = [];
  for (let i = 1; i <= customers; i++) {
    const first = FIRST[(i - 1) % FIRST.length] as string;
    const last = LAST[(i * 3) % LAST.length] as string;
    const email = `${first}.${last}${i}@example.com`.toLowerCase();
    const phone = `+1-555-01${String(i).padStart(2, '0')}`;
    const card = CARDS[i % CARDS.length] as string;
    const city = CITIES[i % CITIES.length] as string;
    lines.push(
      `INSERT INTO customers (id, name, email, phone, card_number, city, created_at) VALUES ` +
        `(${i}, '${first} ${last}', '${email}', '${phone}', '${card}', '${city}', ` +
        `'2025-01-01T00:00:00Z'::timestamptz + interval '${i * 3} days');`,
    );
  }
  let order = 1;
  for (let i = 1; i <= customers; i++) {
    for (let k = 0; k < 1 + (i % 4); k++) {
      const amount = ((i * 37 + k * 11) % 300) + 9.99;
      const status = STATUSES[(i + k) % STATUSES.length] as string;
      lines.push(
        `INSERT INTO orders VALUES (${order++}, ${i}, ${amount.toFixed(2)}, '${status}', ` +
          `'2025-06-01T12:00:00Z'::timestamptz + interval '${i + k * 5} days');`,
      );
    }
  }
  return lines.join('\n');
}
