// SQL filter expressions the app writes into the grid's query bar (F-42), in the grid's dialect:
// `items` columns, `has_label(id, 'dog')`, and tag scores `tags_<group>.<tag>`. The server checks
// and runs them; the histogram and tag pages prefer the filters the API hands back.

export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** `"Street Sign"` -> `street_sign`, as the server names a tag's score column. */
export function tagColumn(tag: string): string {
  const col = tag
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_]+/gu, "_")
    .replace(/^_+|_+$/g, "");
  return col && !/^\p{N}/u.test(col) ? col : `t_${col}`;
}

/** The grid's reference to a tag's score: `tags_animals.dog`. */
export function scoreColumn(groupSlug: string, tag: string): string {
  return `tags_${groupSlug}.${tagColumn(tag)}`;
}

/** Items carrying a label named `name`. */
export function labelFilter(name: string): string {
  return `has_label(id, ${sqlString(name)})`;
}

/** Items whose score for `tag` is within [lo, hi) (the last bin includes 1). */
export function scoreFilter(groupSlug: string, tag: string, lo: number, hi: number): string {
  const col = scoreColumn(groupSlug, tag);
  return `${col} >= ${lo} AND ${col} ${hi >= 1 ? "<=" : "<"} ${hi}`;
}

/** Items the tag decides positive at `threshold`. */
export function taggedFilter(groupSlug: string, tag: string, threshold: number): string {
  return `${scoreColumn(groupSlug, tag)} >= ${threshold}`;
}
