import type { Expectation } from './session-state.js';

/** A FIFO of expectations; shift is O(1) (a moving head, compacted now and then). */
export class ExpectationQueue {
  #items: (Expectation | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: Expectation): void {
    this.#items.push(item);
  }

  peek(): Expectation | undefined {
    return this.#items[this.#head];
  }

  shift(): Expectation | undefined {
    const item = this.#items[this.#head];
    if (item === undefined) return undefined;
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  replaceHead(item: Expectation): void {
    if (this.#head < this.#items.length) this.#items[this.#head] = item;
  }

  /** Every expectation still waiting (to end their recordings when the session ends). */
  pending(): Expectation[] {
    return this.#items.slice(this.#head) as Expectation[];
  }
}
