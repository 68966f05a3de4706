// Reads an OpenMPI hostfile ("host slots=N" lines) to count the slots it offers.
export interface HostEntry {
  host: string;
  /** null when the line gives no slots= (OpenMPI then uses the host's detected core count). */
  slots: number | null;
}

export function parseHostfile(text: string): HostEntry[] {
  const entries: HostEntry[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/#.*/, '').trim();
    if (line === '') continue;
    const [host, ...settings] = line.split(/\s+/);
    let slots: number | null = null;
    for (const setting of settings) {
      const match = /^slots=(\d+)$/.exec(setting);
      if (match) slots = Number(match[1]);
    }
    entries.push({ host, slots });
  }
  return entries;
}

/** Total slots, or null when any host leaves its slot count to OpenMPI's detection. */
export function totalSlots(entries: HostEntry[]): number | null {
  let total = 0;
  for (const entry of entries) {
    if (entry.slots === null) return null;
    total += entry.slots;
  }
  return total;
}
