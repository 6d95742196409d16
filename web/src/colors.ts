// A stable, readable colour per label name.
const cache = new Map<string, string>();

export function colorOf(name: string): string {
  let c = cache.get(name);
  if (!c) {
    let h = 2166136261;
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
    const hue = (h >>> 0) % 360;
    c = `hsl(${hue} 85% 55%)`;
    cache.set(name, c);
  }
  return c;
}
