// A binary min-heap of bigints: the freed addresses below a range's watermark, lowest on top.

export class BigIntMinHeap {
  private items: bigint[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): bigint | undefined {
    return this.items[0];
  }

  push(value: bigint): void {
    const items = this.items;
    let i = items.length;
    items.push(value);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (p <= value) break;
      items[i] = p;
      i = parent;
    }
    items[i] = value;
  }

  pop(): bigint | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) this.siftDown(0, last);
    return top;
  }

  clear(): void {
    this.items = [];
  }

  /** Replaces the content with `values` in O(n). */
  rebuild(values: bigint[]): void {
    this.items = values;
    for (let i = (values.length >> 1) - 1; i >= 0; i--) this.siftDown(i, values[i]!);
  }

  private siftDown(start: number, value: bigint): void {
    const items = this.items;
    const n = items.length;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && items[right]! < items[left]!) child = right;
      const c = items[child]!;
      if (value <= c) break;
      items[i] = c;
      i = child;
    }
    items[i] = value;
  }
}
