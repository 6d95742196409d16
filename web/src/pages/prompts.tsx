// Text prompts of a tag (F-21): positive and negative, per modality; add and remove.
import { useState } from "preact/hooks";
import { api, errorText, type Tag, type TagGroup } from "../api";
import { ErrorBox } from "../components/ui";

export function Prompts({
  ds,
  group,
  tag,
  editable,
  onChange,
  compact = false,
}: {
  ds: string;
  group: TagGroup;
  tag: Tag;
  editable: boolean;
  onChange: () => void;
  /** One row: prompts as chips, then the form (the preview page). */
  compact?: boolean;
}) {
  const [text, setText] = useState("");
  const [polarity, setPolarity] = useState("positive");
  const [modality, setModality] = useState("visual");
  const [error, setError] = useState<string | null>(null);
  const add = async (e: Event) => {
    e.preventDefault();
    try {
      await api.addPrompt(ds, group.name, tag.name, text.trim(), polarity, modality);
      setText("");
      setError(null);
      onChange();
    } catch (err) {
      setError(errorText(err));
    }
  };
  const remove = async (id: number | null) => {
    if (id === null) return;
    try {
      await api.removePrompt(ds, group.name, tag.name, id);
      onChange();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section class={`panel prompts${compact ? " compact" : ""}`} aria-label="Text prompts" data-testid="prompts">
      <h2>Text prompts</h2>
      <ul class="prompt-list">
        {tag.prompts.map((p) => (
          <li key={p.id ?? p.text} class={`prompt ${p.polarity}`}>
            <span class="pol" aria-label={p.polarity}>
              {p.polarity === "positive" ? "+" : "−"}
            </span>
            <span class="prompt-text">{p.text}</span>
            <span class="muted small">{p.modality}</span>
            {editable ? (
              <button type="button" class="icon-btn" aria-label={`Remove prompt ${p.text}`} onClick={() => remove(p.id)}>
                ×
              </button>
            ) : null}
          </li>
        ))}
        {!tag.prompts.length ? <li class="muted">No text prompts: an autotag learns from examples only.</li> : null}
      </ul>
      {editable ? (
        <form class="prompt-form" onSubmit={add}>
          <input
            type="text"
            value={text}
            placeholder="Add a prompt, e.g. soccer goalkeeper"
            aria-label="New prompt"
            data-testid="prompt-input"
            onInput={(e) => setText((e.target as HTMLInputElement).value)}
          />
          <select aria-label="Prompt polarity" value={polarity} onChange={(e) => setPolarity((e.target as HTMLSelectElement).value)}>
            <option value="positive">positive</option>
            <option value="negative">negative</option>
          </select>
          <select aria-label="Prompt modality" value={modality} onChange={(e) => setModality((e.target as HTMLSelectElement).value)}>
            <option value="visual">visual</option>
            <option value="transcript">transcript</option>
          </select>
          <button type="submit" disabled={!text.trim()}>
            Add
          </button>
        </form>
      ) : null}
      <ErrorBox error={error} />
    </section>
  );
}
