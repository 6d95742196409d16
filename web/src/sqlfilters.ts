// SQL filter expressions the app writes into the grid's query bar (F-42), in the grid's dialect:
// `items` columns and `has_label(id, 'dog')`. Filters on tag scores come from the server (the
// histogram's bars, a tag's `where_tagged`, the columns of a group), which names their SQL columns.

export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** Items carrying a label named `name`. */
export function labelFilter(name: string): string {
  return `has_label(id, ${sqlString(name)})`;
}
