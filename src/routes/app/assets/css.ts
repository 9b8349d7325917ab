/** The back office's one stylesheet (served at /app/assets/app.css; no CDN, no build step). */
export const APP_CSS = `
:root {
  --bg: #f6f7f9; --panel: #fff; --ink: #1b1f24; --muted: #5b6470; --line: #d9dde3;
  --accent: #1d5fd6; --accent-ink: #fff; --danger: #b42318; --ok: #067647; --warn: #b54708;
  --focus: #ffbf47; --radius: 6px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 15px; line-height: 1.45; color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: var(--panel); padding: .5rem 1rem; z-index: 10; }
.skip:focus { left: 1rem; }
header.top { display: flex; align-items: center; gap: 2rem; padding: .6rem 1.5rem; background: #14213d; color: #fff; }
header.top a { color: #fff; text-decoration: none; }
header.top .brand { font-weight: 700; font-size: 1.15rem; letter-spacing: .02em; }
header.top nav { display: flex; gap: 1.2rem; flex: 1; }
header.top nav a { padding: .3rem 0; border-bottom: 2px solid transparent; }
header.top nav a[aria-current="page"] { border-bottom-color: var(--focus); }
header.top .who { display: flex; align-items: center; gap: .8rem; font-size: .9rem; }
header.top .who button { color: #fff; border-color: #8a94a6; background: transparent; }
main { max-width: 1200px; margin: 1.5rem auto; padding: 0 1.5rem; }
h1 { font-size: 1.5rem; margin: 0 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .6rem; }
.panel > h2:first-child, section.panel > h2 { margin-top: 0; }
h3 { font-size: 1rem; margin: 1rem 0 .4rem; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius); padding: 1rem 1.2rem; margin-bottom: 1rem; }
.row { display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
.spread { justify-content: space-between; }
.muted { color: var(--muted); }
.small { font-size: .85rem; }
button, .button {
  font: inherit; padding: .4rem .9rem; border-radius: var(--radius); border: 1px solid var(--line);
  background: var(--panel); color: var(--ink); cursor: pointer; text-decoration: none; display: inline-block; line-height: 1.3;
}
button:hover, .button:hover { border-color: var(--accent); }
button.primary, .button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-ink); }
button.danger { color: var(--danger); }
button.link { border: none; background: none; padding: 0; color: var(--accent); text-decoration: underline; }
button[disabled] { opacity: .55; cursor: not-allowed; }
form.inline { display: inline; margin: 0; }
label { font-weight: 600; display: block; margin-bottom: .2rem; }
label.check { font-weight: 400; display: flex; gap: .4rem; align-items: center; }
input[type=text], input[type=email], input[type=password], input[type=search], input[type=number], input[type=time],
input[type=datetime-local], select, textarea {
  font: inherit; padding: .4rem .55rem; border: 1px solid #aab2bd; border-radius: var(--radius); background: #fff; color: var(--ink); max-width: 100%;
}
textarea { width: 100%; min-height: 6rem; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .85rem; }
.field { margin-bottom: .9rem; }
.field .hint { font-size: .85rem; color: var(--muted); margin-top: .15rem; }
.error, .field-error { color: var(--danger); font-size: .9rem; margin-top: .2rem; }
.field-error::before { content: "⚠ "; }
[aria-invalid="true"] { border-color: var(--danger) !important; box-shadow: 0 0 0 1px var(--danger); }
.alert { border-radius: var(--radius); padding: .7rem 1rem; margin-bottom: 1rem; border: 1px solid; }
.alert.error { background: #fef3f2; border-color: #fecdca; color: var(--danger); }
.alert.ok { background: #ecfdf3; border-color: #abefc6; color: var(--ok); }
.alert ul { margin: .3rem 0 0; padding-left: 1.2rem; }
table { width: 100%; border-collapse: collapse; background: var(--panel); }
th, td { text-align: left; padding: .5rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .85rem; color: var(--muted); font-weight: 600; white-space: nowrap; }
th a { color: inherit; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:hover td { background: #fafbfc; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .8rem; font-weight: 600; background: #eef1f5; color: var(--muted); }
.badge.active, .badge.finished, .badge.delivered, .badge.completed, .badge.ok { background: #ecfdf3; color: var(--ok); }
.badge.failed, .badge.unreachable { background: #fef3f2; color: var(--danger); }
.badge.processing, .badge.pending, .badge.delivering, .badge.retrying { background: #fffaeb; color: var(--warn); }
.badge.draft, .badge.disabled { background: #f2f4f7; color: var(--muted); }
.tabs { display: flex; gap: .3rem; border-bottom: 1px solid var(--line); margin-bottom: 1rem; flex-wrap: wrap; padding: 0; list-style: none; }
.tabs a { display: block; padding: .45rem .9rem; text-decoration: none; color: var(--muted); border-bottom: 3px solid transparent; }
.tabs a[aria-current="page"] { color: var(--ink); border-bottom-color: var(--accent); font-weight: 600; }
.toolbar { display: flex; gap: .8rem; align-items: end; flex-wrap: wrap; margin-bottom: 1rem; }
.toolbar .grow { flex: 1; }
.actions { display: flex; gap: .35rem; flex-wrap: wrap; }
.actions button { font-size: .85rem; padding: .2rem .55rem; }
.star { font-size: 1.1rem; line-height: 1; padding: .1rem .35rem; }
.star[aria-pressed="true"] { color: #c98a00; }
.pager { display: flex; gap: .8rem; align-items: center; margin-top: 1rem; }
.steps { display: flex; gap: .5rem; list-style: none; padding: 0; margin: 0 0 1.2rem; counter-reset: step; }
.steps li { flex: 1; padding: .5rem .8rem; border-radius: var(--radius); background: #eef1f5; color: var(--muted); }
.steps li[aria-current="step"] { background: var(--accent); color: #fff; font-weight: 600; }
.steps li.done { background: #dbe7fb; color: var(--ink); }
.wizard-nav { display: flex; gap: .6rem; justify-content: flex-end; border-top: 1px solid var(--line); padding-top: 1rem; margin-top: 1rem; }
.wizard-nav .left { margin-right: auto; }
.models { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: .6rem; }
.models label { font-weight: 400; border: 1px solid var(--line); border-radius: var(--radius); padding: .6rem .8rem; background: #fff; cursor: pointer; display: flex; gap: .5rem; }
.models label:has(input:checked) { border-color: var(--accent); box-shadow: 0 0 0 1px var(--accent); }
.models strong { display: block; }
.set { border: 1px dashed #aab2bd; border-radius: var(--radius); padding: .7rem; margin-bottom: .6rem; }
.set legend { font-weight: 600; padding: 0 .3rem; }
.cond, .fieldrow { display: flex; gap: .5rem; align-items: flex-start; flex-wrap: wrap; margin-bottom: .5rem; }
.cond > div, .fieldrow > div { display: flex; flex-direction: column; }
.cond > .vals { flex-direction: row; gap: .5rem; }
.cond label, .fieldrow label { font-size: .8rem; font-weight: 600; }
.or { text-align: center; color: var(--muted); font-weight: 600; margin: .2rem 0 .6rem; }
.cond > [data-role=err], .fieldrow > [data-role=err] { flex-basis: 100%; }
.fieldrow { border: 1px solid var(--line); border-radius: var(--radius); padding: .6rem; background: #fcfcfd; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 0 1.5rem; }
@media (max-width: 800px) { .grid2 { grid-template-columns: 1fr; } }
pre.preview { background: #0f172a; color: #e2e8f0; padding: .8rem; border-radius: var(--radius); overflow: auto; max-height: 22rem; font-size: .8rem; }
.progress { width: 8rem; height: .5rem; background: #eef1f5; border-radius: 999px; overflow: hidden; display: inline-block; vertical-align: middle; }
.progress > span { display: block; height: 100%; background: var(--accent); }
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 1rem; }
.stat-figure { font-size: 1.8rem; font-weight: 700; }
svg.chart { width: 100%; height: auto; }
svg.chart .bar { fill: var(--accent); }
svg.chart .bar.fail { fill: var(--danger); }
svg.chart text { font-size: 10px; fill: var(--muted); }
svg.chart .axis { stroke: var(--line); }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 0; }
dl.summary dt { color: var(--muted); }
dl.summary dd { margin: 0; }
.signin { max-width: 380px; margin: 4rem auto; }
.signin input { width: 100%; }
.secret { font-family: ui-monospace, monospace; background: #fffaeb; border: 1px solid #fedf89; padding: .5rem .7rem; border-radius: var(--radius); word-break: break-all; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.wide { width: 100%; }
.w-name { width: 28rem; }
.w-xs { width: 6rem; }
.end { align-self: flex-end; }
td.empty { text-align: center; color: var(--muted); padding: 2rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .88em; }
`;
