import type { FC } from "hono/jsx";
import { Layout } from "../layout";

export const SignInPage: FC<{ token: string; email?: string; error?: string }> = (p) => (
  <Layout title="Sign in" who={null}>
    <div class="signin panel">
      <h1>Sign in</h1>
      <p class="muted">The ferry back office: exports, ingestion and API keys of your organisation.</p>
      {p.error ? (
        <div class="alert error" role="alert" id="signin-error">
          {p.error}
        </div>
      ) : null}
      <form method="post" action="/app/sign-in">
        <input type="hidden" name="_csrf" value={p.token} />
        <div class="field">
          <label for="email">Email</label>
          <input id="email" name="email" type="email" autocomplete="username" required value={p.email ?? ""} autofocus
            aria-describedby={p.error ? "signin-error" : undefined} />
        </div>
        <div class="field">
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autocomplete="current-password" required />
        </div>
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
    </div>
  </Layout>
);
