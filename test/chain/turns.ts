/**
 * Runs `work` and counts the turns the runtime got meanwhile: a 0 ms timer, armed again each
 * time it fires. workerd fires timers (and polls its sockets for new requests) only when its
 * event queue is empty, and a chain link whose awaits are all answered inside the process
 * (miniflare's D1 and R2) never empties it; so the count is how often the work let the runtime
 * serve something else (`yieldToRuntime`, src/chain), not a measure of time. A link that does
 * not yield counts 0 however long it runs.
 */
export async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let on = true;
  const arm = () =>
    setTimeout(() => {
      if (!on) return;
      turns++;
      arm();
    }, 0);
  arm();
  try {
    const result = await work();
    return { result, turns };
  } finally {
    on = false;
  }
}
