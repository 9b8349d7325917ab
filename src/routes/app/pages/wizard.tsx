import type { FC } from "hono/jsx";
import type { WizardCatalog } from "../../../backoffice/catalog";
import type { SignedIn } from "../../../users/users";
import { Layout } from "../layout";

/**
 * The new-export wizard. The page holds the three steps; wizard.js builds the field rows and
 * the filter builder from the catalog JSON, assembles the definition and sends it to the same
 * services the API uses (create, update, preview, target test). Every input carries
 * `data-path`, the path the API names in `error.details[].path`, so an error lands next to
 * the field it is about.
 */

const Err: FC<{ path: string }> = ({ path }) => <div class="field-error" data-error-for={path} id={`err-${path}`} hidden />;

const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const FORMAT_LABELS: Record<string, string> = {
  csv: "CSV (comma-separated)",
  psv: "PSV (pipe-separated)",
  tsv: "TSV (tab-separated)",
  json: "JSON",
  ndjson: "NDJSON (one JSON object per line)",
  xml: "XML",
  parquet: "Parquet",
  txt: "TXT (fixed width)",
};

export const WizardPage: FC<{ who: SignedIn; catalog: WizardCatalog; initial: Record<string, unknown> | null; editId: string | null; title: string }> = (p) => {
  const data = JSON.stringify({ catalog: p.catalog, initial: p.initial, id: p.editId }).replace(/</g, "\\u003c");
  return (
    <Layout title={p.title} who={p.who} active="exports" scripts={["app.js", "wizard.js"]}>
      <p class="small">
        <a href="/app">← Exports</a>
      </p>
      <h1>{p.title}</h1>
      <ol class="steps" aria-label="Steps">
        <li data-step-label="1" aria-current="step">
          1. Model
        </li>
        <li data-step-label="2">2. Fields and filters</li>
        <li data-step-label="3">3. File, schedule and delivery</li>
      </ol>
      <div id="form-errors" class="alert error" role="alert" tabindex={-1} hidden />
      <form id="wizard" novalidate>
        <section data-step="1" aria-labelledby="s1h" class="panel">
          <h2 id="s1h">Step 1 of 3: what to export</h2>
          <div class="field">
            <label for="f-name">Name</label>
            <input id="f-name" type="text" data-path="name" required maxlength={100} aria-describedby="hint-name err-name" class="w-name" />
            <div class="hint" id="hint-name">
              Letters, digits, “-”, “_” and “.”; also the file's name.
            </div>
            <Err path="name" />
          </div>
          <fieldset data-path="model" aria-describedby="err-model">
            <legend>
              <strong>Model</strong>
            </legend>
            <Err path="model" />
            <div class="models">
              {p.catalog.models.map((m) => (
                <label>
                  <input type="radio" name="model" value={m.name} aria-labelledby={`m-${m.name}`} aria-describedby={`md-${m.name}`} />
                  <span>
                    <strong id={`m-${m.name}`}>{m.title}</strong>
                    <span class="small muted" id={`md-${m.name}`}>
                      {m.description}
                    </span>
                  </span>
                </label>
              ))}
            </div>
          </fieldset>
          {p.catalog.models.map((m) => (
            <div data-model-fields={m.name} hidden>
              <h3>Fields of {m.title}</h3>
              <table>
                <thead>
                  <tr>
                    <th>Field</th>
                    <th>Type</th>
                    <th>Required</th>
                    <th>Values</th>
                    <th>Description</th>
                  </tr>
                </thead>
                <tbody>
                  {m.fields.map((f) => (
                    <tr>
                      <td>
                        <code>{f.name}</code>
                      </td>
                      <td>{f.type}</td>
                      <td>{f.required ? "yes" : "no"}</td>
                      <td class="small">{f.values ? f.values.join(", ") : ""}</td>
                      <td class="small">{f.description}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ))}
        </section>

        <section data-step="2" aria-labelledby="s2h" class="panel" hidden>
          <h2 id="s2h">Step 2 of 3: fields, filters and aggregation</h2>
          <div class="grid2">
            <div class="field">
              <label for="f-timezone">Time zone</label>
              <input id="f-timezone" type="text" data-path="timezone" list="tz-list" value="UTC" aria-describedby="hint-tz err-timezone" />
              <datalist id="tz-list" />
              <div class="hint" id="hint-tz">
                Dates in filters and <code>date:</code> expressions are read in this zone.
              </div>
              <Err path="timezone" />
            </div>
            <div class="field">
              <label class="check">
                <input id="f-aggregate" type="checkbox" data-path="aggregate" /> Aggregate rows (group, count, sum, …)
              </label>
              <label class="check">
                <input id="f-incremental" type="checkbox" data-path="incremental" /> Only rows ingested since the previous run
              </label>
              <Err path="aggregate" />
            </div>
          </div>
          <h3 id="fields-h">Fields</h3>
          <label class="check">
            <input id="f-all_fields" type="checkbox" data-path="all_fields" /> All fields of the model
          </label>
          <Err path="all_fields" />
          <div id="fields" data-path="fields" />
          <Err path="fields" />
          <div class="row">
            <div>
              <label for="add-field-select">Field to add</label>
              <select id="add-field-select" />
            </div>
            <button type="button" id="add-field" class="end">
              Add field
            </button>
          </div>
          <h3 id="filters-h">Filters</h3>
          <p class="small muted">
            Every condition of a set must match (AND); a row is exported when any set matches (OR). Dates take <code>YYYY-MM-DD</code>,
            <code>YYYY-MM-DD HH:MM:SS</code> or an expression such as <code>date:today -7 days</code>, <code>date:start of last month</code>.
          </p>
          <div id="filters" data-path="filters" />
          <Err path="filters" />
          <button type="button" id="add-set">
            Add filter set (OR)
          </button>
        </section>

        <section data-step="3" aria-labelledby="s3h" class="panel" hidden>
          <h2 id="s3h">Step 3 of 3: file, schedule and delivery</h2>
          <div class="grid2">
            <div>
              <h3>File</h3>
              <div class="field">
                <label for="f-format">Format</label>
                <select id="f-format" data-path="format.type">
                  {p.catalog.formats.map((f) => (
                    <option value={f}>{FORMAT_LABELS[f] ?? f}</option>
                  ))}
                </select>
                <Err path="format.type" />
              </div>
              <div id="delimited-options">
                <div class="field" id="delimiter-field">
                  <label for="f-delimiter">Delimiter</label>
                  <input id="f-delimiter" type="text" data-path="format.delimiter" maxlength={4} value="," class="w-xs" />
                  <Err path="format.delimiter" />
                </div>
                <div class="field">
                  <label for="f-enclosure">Enclosure</label>
                  <input id="f-enclosure" type="text" data-path="format.enclosure" maxlength={1} value={'"'} class="w-xs" />
                  <Err path="format.enclosure" />
                </div>
                <div class="field">
                  <label for="f-newline">New line</label>
                  <select id="f-newline" data-path="format.newline">
                    <option value="lf">LF (Unix)</option>
                    <option value="crlf">CRLF (Windows)</option>
                  </select>
                </div>
                <label class="check">
                  <input id="f-header" type="checkbox" data-path="format.header" checked /> Header row
                </label>
                <label class="check">
                  <input id="f-bom" type="checkbox" data-path="format.bom" /> Byte order mark (helps Excel read UTF-8)
                </label>
                <label class="check">
                  <input id="f-formula" type="checkbox" data-path="format.formula_protection" checked /> Protect against spreadsheet formulas
                </label>
              </div>
              <div class="field">
                <label for="f-compression">Archive</label>
                <select id="f-compression" data-path="compression">
                  <option value="none">None</option>
                  <option value="gzip">gzip (.gz)</option>
                  <option value="zip">ZIP (.zip)</option>
                </select>
                <Err path="compression" />
              </div>
              <label class="check">
                <input id="f-encrypt" type="checkbox" /> Encrypt the file (OpenPGP)
              </label>
              <div class="field" id="encryption-key" hidden>
                <label for="f-public-key">Public key</label>
                <textarea id="f-public-key" data-path="encryption.public_key" aria-describedby="hint-pgp err-encryption.public_key" />
                <div class="hint" id="hint-pgp">
                  ASCII-armored, e.g. the output of <code>gpg --armor --export you@example.com</code>.
                </div>
                <Err path="encryption.public_key" />
              </div>
              <div class="field">
                <label for="f-retention">Keep files for (days)</label>
                <input id="f-retention" type="number" min={1} max={3650} value="7" data-path="retention_days" class="w-xs" />
                <Err path="retention_days" />
              </div>
            </div>
            <div>
              <h3>Schedule</h3>
              <div class="field">
                <label for="f-schedule">Runs</label>
                <select id="f-schedule" data-path="schedule.type">
                  <option value="now">When published, then when started (Run now)</option>
                  <option value="manual">Only when started (Run now)</option>
                  <option value="once">Once, at a date and time</option>
                  <option value="daily">Every day</option>
                  <option value="weekly">Every week</option>
                  <option value="monthly">Every month</option>
                  <option value="operation_end">At the end of each campaign (operation)</option>
                </select>
                <Err path="schedule.type" />
                <Err path="schedule" />
              </div>
              <div class="field" data-when-schedule="once" hidden>
                <label for="f-at">At (UTC)</label>
                <input id="f-at" type="datetime-local" data-path="schedule.at" />
                <Err path="schedule.at" />
              </div>
              <fieldset class="field" data-when-schedule="weekly" data-path="schedule.days" hidden>
                <legend>Days of the week</legend>
                {DAYS.map((d, i) => (
                  <label class="check">
                    <input type="checkbox" name="weekday" value={String(i)} /> {d}
                  </label>
                ))}
                <Err path="schedule.days" />
              </fieldset>
              <div class="field" data-when-schedule="monthly" hidden>
                <label for="f-monthdays">Days of the month</label>
                <input id="f-monthdays" type="text" placeholder="1, 15, last" aria-describedby="hint-monthdays" />
                <div class="hint" id="hint-monthdays">
                  Numbers from 1 to 31, or “last” for the last day of the month.
                </div>
              </div>
              <div class="field" data-when-schedule="daily weekly monthly" hidden>
                <label for="f-time">Time (UTC)</label>
                <input id="f-time" type="time" data-path="schedule.time" value="06:00" />
                <Err path="schedule.time" />
              </div>
              <h3>Delivery</h3>
              <div class="field">
                <label for="f-target">Target</label>
                <select id="f-target" data-path="target.type">
                  <option value="download">Download from the back office</option>
                  <option value="s3">Amazon S3 (or compatible)</option>
                  <option value="ftp">FTP</option>
                  <option value="ftps">FTP over TLS</option>
                  <option value="sftp">SFTP</option>
                  <option value="azure">Azure Blob Storage</option>
                  <option value="gcs">Google Cloud Storage</option>
                </select>
                <Err path="target.type" />
              </div>
              <div id="target-fields" data-path="target" />
              <Err path="target" />
              <div class="row" id="target-test" hidden>
                <button type="button" id="test-connection">
                  Test connection
                </button>
                <span id="test-result" role="status" />
              </div>
            </div>
          </div>
          <section aria-labelledby="preview-h">
            <div class="row spread">
              <h3 id="preview-h">Preview</h3>
              <button type="button" id="refresh-preview">
                Refresh preview
              </button>
            </div>
            <div id="preview" aria-live="polite">
              <p class="muted">The first 20 rows, exactly as the file will hold them, appear here.</p>
            </div>
          </section>
        </section>

        <div class="wizard-nav">
          <button type="button" id="back" class="left" hidden>
            Back
          </button>
          <button type="button" id="save-draft">
            Save draft
          </button>
          <button type="button" id="next" class="primary">
            Next
          </button>
          <button type="button" id="publish" class="primary" hidden>
            Publish
          </button>
        </div>
      </form>
      <script type="application/json" id="wizard-data" dangerouslySetInnerHTML={{ __html: data }} />
    </Layout>
  );
};
