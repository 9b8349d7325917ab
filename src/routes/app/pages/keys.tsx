import type { FC } from "hono/jsx";
import { can, type SignedIn } from "../../../users/users";
import { Badge, Csrf, Layout, PostButton, when } from "../layout";

export interface KeyLine {
  id: string;
  name: string;
  created_at: number;
  revoked_at: number | null;
}

/** The tenant's ingestion API keys: create (the key is shown once) and revoke. */
export const KeysPage: FC<{ who: SignedIn; keys: KeyLine[]; created?: { id: string; name: string; apiKey: string }; notice?: string; error?: string }> = (p) => {
  const manage = can(p.who.user.role, "keys-manage");
  return (
    <Layout title="API keys" who={p.who} active="keys" scripts={["app.js"]}>
      <h1>API keys</h1>
      <p class="muted">Keys let your systems send data to the ingestion API (<code>/v1</code>, CSV uploads). Each key is shown once, when it is created.</p>
      {p.created ? (
        <div class="alert ok" role="status">
          <p>
            <strong>Key “{p.created.name}” created.</strong> Copy it now: it will not be shown again.
          </p>
          <p>
            <span class="sr-only">The new API key: </span>
            <code class="secret" data-secret="">
              {p.created.apiKey}
            </code>
          </p>
        </div>
      ) : null}
      {p.notice ? (
        <div class="alert ok" role="status">
          {p.notice}
        </div>
      ) : null}
      {manage ? (
        <form method="post" action="/app/api-keys" class="panel toolbar">
          <Csrf who={p.who} />
          <div class="grow">
            <label for="key-name">Key name</label>
            <input id="key-name" name="name" type="text" required maxlength={200} placeholder="e.g. game-server-eu" class="wide"
              aria-describedby={p.error ? "key-error" : undefined} aria-invalid={p.error ? "true" : undefined} />
            {p.error ? (
              <div class="field-error" id="key-error">
                {p.error}
              </div>
            ) : null}
          </div>
          <button type="submit" class="primary">
            Create key
          </button>
        </form>
      ) : (
        <p class="muted">Only admins create and revoke keys.</p>
      )}
      <table>
        <caption class="sr-only">API keys</caption>
        <thead>
          <tr>
            <th>Name</th>
            <th>Id</th>
            <th>Created</th>
            <th>Status</th>
            {manage ? <th>Actions</th> : null}
          </tr>
        </thead>
        <tbody>
          {p.keys.length === 0 ? (
            <tr>
              <td colspan={5} class="empty">
                No key yet.
              </td>
            </tr>
          ) : null}
          {p.keys.map((k) => (
            <tr>
              <td>{k.name}</td>
              <td>
                <code>{k.id}</code>
              </td>
              <td>{when(k.created_at)}</td>
              <td>{k.revoked_at ? <Badge status="failed" label={`revoked ${when(k.revoked_at)}`} /> : <Badge status="active" />}</td>
              {manage ? (
                <td>
                  {k.revoked_at ? null : (
                    <PostButton
                      who={p.who}
                      action={`/app/api-keys/${k.id}/revoke`}
                      label="Revoke"
                      cls="danger"
                      aria={`Revoke ${k.name}`}
                      confirm={`Revoke the key ${k.name}? Systems using it stop being able to send data.`}
                    />
                  )}
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>
  );
};
