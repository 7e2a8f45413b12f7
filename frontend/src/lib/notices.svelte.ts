/** Short-lived notices (toasts) a panel shows after a write: the newest few, each for a while. */

export interface Notice<K extends string> {
  id: number;
  kind: K;
  text: string;
}

export class Notices<K extends string> {
  list = $state.raw<Notice<K>[]>([]);
  #seq = 0;
  readonly #timers = new Map<number, ReturnType<typeof setTimeout>>();

  /** keeps at most `keep` notices; each leaves after `ttlMs(kind)` */
  constructor(
    private readonly keep: number,
    private readonly ttlMs: (kind: K) => number,
  ) {}

  push(kind: K, text: string): void {
    const id = ++this.#seq;
    const kept = [...this.list, { id, kind, text }];
    for (const gone of kept.slice(0, -this.keep)) this.#clear(gone.id);
    this.list = kept.slice(-this.keep);
    this.#timers.set(
      id,
      setTimeout(() => this.dismiss(id), this.ttlMs(kind)),
    );
  }

  dismiss(id: number): void {
    this.#clear(id);
    this.list = this.list.filter((n) => n.id !== id);
  }

  /** the panel is gone: no timer may fire into it */
  destroy(): void {
    for (const id of [...this.#timers.keys()]) this.#clear(id);
  }

  #clear(id: number): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
  }
}
