// Text prompts of a tag (F-21): positive and negative, per modality; add and remove; and
// suggestions (F-30) from the LLM endpoint or the dataset's own texts, added one by one or all.
import { useState } from "preact/hooks";
import { api, errorText, type PromptSuggestions, type Tag, type TagGroup } from "../api";
import { ErrorBox, fmtScore } from "../components/ui";

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
      {editable ? <Suggestions ds={ds} group={group} tag={tag} modality={modality} onAdded={onChange} /> : null}
      <ErrorBox error={error} />
    </section>
  );
}

/** The "Suggest" button and what it found for the modality chosen in the form. */
function Suggestions({
  ds,
  group,
  tag,
  modality,
  onAdded,
}: {
  ds: string;
  group: TagGroup;
  tag: Tag;
  modality: string;
  onAdded: () => void;
}) {
  const [found, setFound] = useState<PromptSuggestions | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const suggest = async () => {
    setBusy(true);
    setError(null);
    try {
      setFound(await api.suggestPrompts(ds, group.name, tag.name, modality));
    } catch (err) {
      setFound(null);
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  const add = async (texts: string[]) => {
    if (!found || !texts.length) return;
    try {
      await api.addSuggestions(ds, group.name, tag.name, texts, found.modality);
      const left = found.suggestions.filter((s) => !texts.includes(s.text));
      setFound({ ...found, suggestions: left });
      setError(null);
      onAdded(); // the tag (and the preview scoring it) reloads
    } catch (err) {
      setError(errorText(err));
    }
  };
  const origin = !found
    ? ""
    : found.source === "llm"
      ? `from the LLM (${found.model})`
      : `from this dataset's texts (space ${found.space})`;
  return (
    <div class="prompt-suggest" data-testid="prompt-suggestions">
      <button type="button" class="ghost" onClick={suggest} disabled={busy}>
        {busy ? "Suggesting…" : `Suggest ${modality} prompts`}
      </button>
      {found ? (
        <>
          <span class="muted small" data-testid="suggestion-source">
            {found.suggestions.length} suggestion(s) {origin}
          </span>
          {found.suggestions.length ? (
            <button type="button" onClick={() => add(found.suggestions.map((s) => s.text))}>
              Add all
            </button>
          ) : null}
          <ul class="prompt-list suggestion-list">
            {found.suggestions.map((s) => (
              <li key={s.text} class="prompt suggestion">
                <span class="prompt-text">{s.text}</span>
                {s.score !== null ? (
                  <span class="muted small" title={`from item(s) ${s.item_ids.join(", ")}`}>
                    {fmtScore(s.score, 2)}
                  </span>
                ) : null}
                <button type="button" class="small ghost" aria-label={`Add suggestion ${s.text}`} onClick={() => add([s.text])}>
                  Add
                </button>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <ErrorBox error={error} testid="suggestion-error" />
    </div>
  );
}
