/**
 * For contract suites that need "another handle on the same backend" (another process):
 * opens `first`, and more handles on demand; dispose closes them all.
 */
export async function handles<T extends { close(): Promise<void> }>(open: () => Promise<T>): Promise<{ first: T; more: () => Promise<T>; dispose: () => Promise<void> }> {
  const opened: T[] = [];
  const more = async () => {
    const h = await open();
    opened.push(h);
    return h;
  };
  const first = await more();
  return { first, more, dispose: async () => void (await Promise.all(opened.map((h) => h.close()))) };
}
