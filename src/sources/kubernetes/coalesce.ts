// One async pass at a time, coalescing kicks: a status writer is kicked on every snapshot and event, but a pass reads
// the latest state anyway, so kicks during a pass collapse into exactly one more pass after it.
export class CoalescedPass {
  private running = false;
  private again = false;

  /** `enabled` is asked before every pass (including the queued one), so a stopped writer starts no more. */
  constructor(
    private readonly pass: () => Promise<void>,
    private readonly enabled: () => boolean = () => true,
  ) {}

  kick(): void {
    if (!this.enabled()) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.pass().finally(() => {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }
}
