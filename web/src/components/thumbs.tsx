// Thumbnail cards: the grid, search results, previews and examples all show items this way.
import type { ComponentChildren } from "preact";
import { href } from "../router";
import { fmtScore } from "./ui";

export interface ThumbProps {
  id: number;
  src: string;
  title?: string;
  score?: number | null;
  eager?: boolean;
  selected?: boolean;
  badge?: ComponentChildren;
  /** Shown instead of the image, for items that have none (a shot, a transcript cue). */
  card?: ComponentChildren;
  children?: ComponentChildren;
  /** Clicking the image: default opens the item's detail page. */
  onOpen?: (e: MouseEvent) => void;
  onToggle?: (e: MouseEvent) => void;
  testid?: string;
}

export function Thumb(p: ThumbProps) {
  return (
    <figure
      class={`card${p.selected ? " selected" : ""}`}
      data-testid={p.testid ?? "thumb"}
      data-item-id={p.id}
      data-score={p.score ?? undefined}
      aria-selected={p.onToggle ? Boolean(p.selected) : undefined}
    >
      <a
        class="card-img"
        href={href("items", p.id)}
        aria-label={`Open item ${p.id}${p.title ? ` (${p.title})` : ""}`}
        aria-keyshortcuts={p.onToggle ? "Space" : undefined}
        onClick={(e) => {
          if (p.onOpen) {
            e.preventDefault();
            p.onOpen(e as unknown as MouseEvent);
          }
        }}
        onKeyDown={(e) => {
          // One tab stop per card: Space selects it, Enter opens it.
          if (p.onToggle && e.key === " ") {
            e.preventDefault();
            p.onToggle(e as unknown as MouseEvent);
          }
        }}
      >
        {p.card ?? (
          <img
            src={p.src}
            alt={p.title ?? `item ${p.id}`}
            loading={p.eager ? "eager" : "lazy"}
            decoding="async"
            draggable={false}
          />
        )}
        {p.score !== undefined && p.score !== null ? (
          <span class="score-badge" data-testid="score">
            {fmtScore(p.score, 2)}
          </span>
        ) : null}
        {p.badge}
      </a>
      {p.onToggle ? (
        <button
          type="button"
          class="select-box"
          aria-label={`${p.selected ? "Deselect" : "Select"} item ${p.id}`}
          aria-pressed={Boolean(p.selected)}
          tabIndex={-1}
          data-testid="select"
          onClick={(e) => {
            e.preventDefault();
            p.onToggle!(e as unknown as MouseEvent);
          }}
        >
          {p.selected ? "✓" : ""}
        </button>
      ) : null}
      {p.children ? <figcaption>{p.children}</figcaption> : null}
    </figure>
  );
}
