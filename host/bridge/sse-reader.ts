// A small server-sent-events reader over a fetch Response (tests, the demo, scripts).

export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Read events from `res` until `until(events)` is true or the stream ends; then cancel the stream.
 * @example const evs = await readSse(await fetch(url), (e) => e.some((x) => x.event === "result"));
 */
export async function readSse(res: Response, until: (events: SseEvent[]) => boolean = () => false, onEvent?: (e: SseEvent) => void | Promise<void>): Promise<SseEvent[]> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  const events: SseEvent[] = [];
  let buf = "";
  try {
    for (;;) {
      if (events.length && until(events)) break;
      const { done, value } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i: number;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data.push(line.slice(6));
          else if (line.startsWith("data:")) data.push(line.slice(5));
        }
        const e = { event, data: data.join("\n") };
        events.push(e);
        await onEvent?.(e);
        if (until(events)) break;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return events;
}
