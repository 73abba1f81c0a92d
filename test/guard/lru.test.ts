import t from 'tap';
import { LruCache } from '../../src/guard/lru.js';

t.test('the least recently used entry is evicted beyond capacity', async (t) => {
  const lru = new LruCache<string, number>(2);
  lru.set('a', 1);
  lru.set('b', 2);
  t.equal(lru.get('a'), 1, 'reading a makes b the oldest');
  lru.set('c', 3);
  t.equal(lru.get('b'), undefined);
  t.equal(lru.get('a'), 1);
  t.equal(lru.get('c'), 3);
  t.equal(lru.size, 2);
  lru.set('c', 4);
  t.equal(lru.get('c'), 4, 'setting a key again replaces its value');
  t.equal(lru.size, 2);
  lru.clear();
  t.equal(lru.size, 0);
});

t.test('a capacity of zero keeps nothing', async (t) => {
  const lru = new LruCache<string, number>(0);
  lru.set('a', 1);
  t.equal(lru.get('a'), undefined);
  t.equal(lru.size, 0);
});
