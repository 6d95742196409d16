// The way to the labeling tool (its page is a chunk of its own: linking to it loads nothing).
import { href } from "../router";

/** The hash of the label page of `id`; `q` says where next / previous go (`from=grid` with the
 * grid's `ids` or `where`/`collection`/`sort`/`order`, or `from=job:<name>`). */
export function labelHref(ds: string, id: number, q: URLSearchParams | Record<string, string>): string {
  const params = q instanceof URLSearchParams ? Object.fromEntries(q.entries()) : q;
  return href("d", ds, "label", id, params);
}
