/**
 * One poll of the store per second, shared by every open page, and only while one is open: the inbox's version
 * (requests, their status, today's spend, whether a second factor is ready). Listeners hear it when it changes,
 * and once when they subscribe.
 */
export const POLL_MS = 1000;

export class InboxWatcher {
  private readonly listeners = new Set<(version: string) => void>();
  private timer: NodeJS.Timeout | undefined;
  private version: string | undefined;
  private polling = false;
  /** The last failure reported: the same one (a broken config.yaml) is reported once, not every second. */
  private failure: string | undefined;

  constructor(
    private readonly load: () => Promise<string>,
    private readonly onError: (error: unknown) => void,
    private readonly pollMs = POLL_MS,
  ) {}

  subscribe(listener: (version: string) => void): () => void {
    this.listeners.add(listener);
    if (this.version !== undefined) listener(this.version);
    if (!this.timer) {
      void this.poll();
      this.timer = setInterval(() => void this.poll(), this.pollMs);
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
        // Unwatched changes are not seen: the next subscriber starts from a fresh read.
        this.version = undefined;
      }
    };
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const version = await this.load();
      this.failure = undefined;
      if (version === this.version || !this.timer) return;
      this.version = version;
      for (const listener of this.listeners) listener(version);
    } catch (error) {
      const failure = String((error as Error)?.message ?? error);
      if (failure !== this.failure) this.onError(error);
      this.failure = failure;
    } finally {
      this.polling = false;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }
}
