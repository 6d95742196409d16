// SQL filter expressions the app writes into the grid's query bar (F-42). The server validates
// and runs them; the histogram and tag pages prefer the filters the API hands back.

export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** Items carrying a label named `name`. */
export function labelFilter(name: string): string {
  return `id IN (SELECT item_id FROM labels WHERE name = ${sqlString(name)})`;
}

/** Items whose score for `tag` (in the group's table `dt_<slug>_visual`) is within [lo, hi). */
export function scoreFilter(table: string, tag: string, lo: number, hi: number): string {
  const upper = hi >= 1 ? `score <= ${hi}` : `score < ${hi}`;
  return `id IN (SELECT item_id FROM ${table} WHERE tag = ${sqlString(tag)} AND score >= ${lo} AND ${upper})`;
}

/** Items the tag decides positive at its saved threshold. */
export function taggedFilter(table: string, tag: string): string {
  return `id IN (SELECT item_id FROM ${table} WHERE tag = ${sqlString(tag)} AND decision)`;
}
