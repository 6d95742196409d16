// The login page (#/login?next=...): user name and password; back to the page asked for after.
import { useState } from "preact/hooks";
import { ApiError, errorText, type Me } from "../api";
import { login } from "../auth";
import { navigate } from "../router";
import { ErrorBox, Spinner } from "../components/ui";

function loginError(e: unknown): string {
  if (e instanceof ApiError && e.status === 429)
    return `too many failed logins: try again in ${e.retryAfterS ?? "a few"} s`;
  return errorText(e);
}

export function LoginPage({ next, me }: { next: string | null; me: Me | null | undefined }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const back = () => navigate(`#${next && next.startsWith("/") ? next : "/"}`, true);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(name.trim(), password);
      back();
    } catch (err) {
      setError(loginError(err));
      setPassword("");
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="login-screen">
      <form class="login-card" onSubmit={submit} aria-label="Log in" data-testid="login-form">
        <div class="login-brand">
          <span class="logo">T</span>
          <span class="brand-name">Tagscope</span>
        </div>
        {me && !me.auth ? (
          <p class="hint" data-testid="login-open-mode">
            No accounts: this server runs in local mode and needs no login.{" "}
            <a href="#/">Open the app</a>
          </p>
        ) : (
          <>
            <h1>Log in</h1>
            {me?.user ? (
              <p class="hint">
                Logged in as <strong>{me.user}</strong>. <a href="#/">Open the app</a>
              </p>
            ) : null}
            <label class="field">
              <span class="field-label">User name</span>
              <input
                name="username"
                autocomplete="username"
                required
                autofocus
                value={name}
                onInput={(e) => setName((e.target as HTMLInputElement).value)}
                data-testid="login-name"
              />
            </label>
            <label class="field">
              <span class="field-label">Password</span>
              <input
                type="password"
                name="password"
                autocomplete="current-password"
                required
                value={password}
                onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
                data-testid="login-password"
              />
            </label>
            <ErrorBox error={error} testid="login-error" />
            <button type="submit" class="primary" disabled={busy || !name.trim() || !password} data-testid="login-submit">
              {busy ? <Spinner label="Logging in" /> : "Log in"}
            </button>
          </>
        )}
      </form>
    </div>
  );
}
