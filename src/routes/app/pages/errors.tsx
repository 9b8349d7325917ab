import type { FC } from "hono/jsx";
import type { SignedIn } from "../../../users/users";
import { Layout } from "../layout";

/** A page that says what went wrong and where to go from here. */
export const ErrorPage: FC<{ who: SignedIn | null; title: string; message: string }> = (p) => (
  <Layout title={p.title} who={p.who}>
    <div class="panel">
      <h1>{p.title}</h1>
      <p>{p.message}</p>
      <p>
        <a href="/app">Back to the exports</a>
      </p>
    </div>
  </Layout>
);
