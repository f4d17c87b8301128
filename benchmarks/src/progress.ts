/** A one-line progress bar on stderr (plain lines when stderr is not a terminal, e.g. in CI logs). */
export class Progress {
  private done = 0;
  private readonly start = Date.now();
  constructor(
    private total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly width = 28,
  ) {}

  /** Adds work discovered later (e.g. the optimizer benchmark's trials). */
  grow(n: number): void {
    this.total += n;
  }

  /** Marks one unit of work finished and shows `label`. */
  tick(label: string): void {
    this.done = Math.min(this.total, this.done + 1);
    this.render(label);
  }

  /** Shows what is running now without counting it. */
  status(label: string): void {
    this.render(label);
  }

  /** The bar itself, e.g. `[#######.....] 12/40  30%  1m05s`. */
  static bar(done: number, total: number, width: number, elapsedMs: number): string {
    const frac = total > 0 ? done / total : 1;
    const filled = Math.round(frac * width);
    const s = Math.round(elapsedMs / 1000);
    const time = s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
    return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${String(Math.round(frac * 100)).padStart(3)}% ${time}`;
  }

  private render(label: string): void {
    const line = `${Progress.bar(this.done, this.total, this.width, Date.now() - this.start)}  ${label}`;
    if (this.stream.isTTY) {
      const cols = this.stream.columns ?? 120;
      this.stream.write(`\r${line.slice(0, cols - 1).padEnd(cols - 1)}`);
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  /** Leaves the bar's line and prints a message on its own line. */
  log(msg: string): void {
    if (this.stream.isTTY) this.stream.write(`\r${' '.repeat((this.stream.columns ?? 120) - 1)}\r`);
    this.stream.write(`${msg}\n`);
  }

  finish(): void {
    if (this.stream.isTTY) this.stream.write('\n');
  }
}
