/** The console's stylesheet, served at /assets/console-<hash>.css (no inline style anywhere). */
export const CONSOLE_CSS = `
:root {
  --bg: #f6f7f9; --panel: #fff; --ink: #1b1f24; --muted: #5b6470; --line: #dfe3e8;
  --brand: #0f5d8c; --brand-ink: #fff; --ok: #1a7f37; --ok-bg: #e6f4ea; --bad: #b42318;
  --bad-bg: #fdecea; --warn: #8a5300; --warn-bg: #fff4e0; --mask: #5b3cc4; --mask-bg: #efeafd;
  --focus: #1d6fd8; --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
}
* { box-sizing: border-box; }
html, body { margin: 0; padding: 0; }
body { background: var(--bg); color: var(--ink); font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
a { color: var(--brand); }
:focus-visible { outline: 2px solid var(--focus); outline-offset: 2px; }
.skip { position: absolute; left: -9999px; }
.skip:focus { left: 8px; top: 8px; background: #fff; padding: 6px 10px; z-index: 10; }
header.top { display: flex; align-items: center; gap: 28px; padding: 0 24px; height: 56px; background: #10212f; color: #e8eef3; }
.brand { display: flex; align-items: center; gap: 10px; color: #fff; font-weight: 650; font-size: 17px; text-decoration: none; letter-spacing: .2px; }
.logo { width: 22px; height: 22px; border-radius: 6px; background: linear-gradient(135deg, #3fa7e0, #0f5d8c 60%, #0b3c5c); display: inline-block; }
header nav { display: flex; gap: 4px; }
header nav a { color: #c9d6e0; text-decoration: none; padding: 8px 12px; border-radius: 6px; }
header nav a:hover { background: #1d3446; color: #fff; }
header nav a[aria-current="page"] { background: #24425a; color: #fff; }
.who { margin-left: auto; display: flex; align-items: center; gap: 10px; }
.who form { margin: 0; }
.user { font-weight: 600; }
.badge { font-size: 11px; text-transform: uppercase; letter-spacing: .5px; padding: 2px 7px; border-radius: 10px; background: #24425a; color: #cfe6f5; }
button.link { background: none; border: 0; color: #c9d6e0; cursor: pointer; font: inherit; padding: 6px 8px; border-radius: 6px; }
button.link:hover { background: #1d3446; color: #fff; }
main { max-width: 1240px; margin: 0 auto; padding: 24px; }
main:focus { outline: none; }
h1 { font-size: 22px; margin: 4px 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
.lead { color: var(--muted); margin: 0 0 18px; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 18px 20px; margin-bottom: 16px; }
.toolbar { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-end; margin-bottom: 16px; }
.toolbar label, .field { display: flex; flex-direction: column; gap: 4px; font-size: 12px; color: var(--muted); font-weight: 600; }
input[type=text], input[type=password], select, textarea { font: inherit; color: var(--ink); padding: 7px 9px; border: 1px solid #c4cbd3; border-radius: 6px; background: #fff; min-width: 150px; }
.toolbar input[type=text], .toolbar select { width: 160px; min-width: 0; }
.decide input[type=text] { width: auto; }
textarea { width: 100%; min-height: 84px; font-family: var(--mono); font-size: 12px; }
button, .button { font: inherit; font-weight: 600; padding: 7px 14px; border-radius: 6px; border: 1px solid #b9c2cc; background: #fff; color: var(--ink); cursor: pointer; text-decoration: none; display: inline-block; }
button:hover, .button:hover { background: #eef2f6; }
button.primary, .button.primary { background: var(--brand); border-color: var(--brand); color: var(--brand-ink); }
button.primary:hover { background: #0c4d75; }
button.approve { background: var(--ok); border-color: var(--ok); color: #fff; }
button.approve:hover { background: #156c2e; }
button.deny { background: #fff; border-color: var(--bad); color: var(--bad); }
button.deny:hover { background: var(--bad-bg); }
button:disabled { opacity: .55; cursor: default; }
table.data { width: 100%; border-collapse: collapse; background: var(--panel); border: 1px solid var(--line); border-radius: 10px; overflow: hidden; }
table.data th, table.data td { text-align: left; padding: 9px 12px; border-bottom: 1px solid var(--line); vertical-align: top; }
table.data th { background: #f0f3f6; font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .4px; }
table.data tr:last-child td { border-bottom: 0; }
table.data td.num, table.data th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre, .mono { font-family: var(--mono); font-size: 12.5px; }
pre.sql { margin: 0; padding: 10px 12px; background: #0f1b26; color: #e6edf3; border-radius: 6px; white-space: pre-wrap; word-break: break-word; }
pre.sql .kw { color: #7cc4fa; font-weight: 600; }
.muted { color: var(--muted); }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; }
.pill.allow, .pill.approved, .pill.executed, .pill.ok { background: var(--ok-bg); color: var(--ok); }
.pill.deny, .pill.denied, .pill.broken, .pill.error { background: var(--bad-bg); color: var(--bad); }
.pill.review, .pill.pending, .pill.requested, .pill.notified { background: var(--warn-bg); color: var(--warn); }
.pill.expired, .pill.open { background: #eceff3; color: var(--muted); }
.empty { background: var(--panel); border: 1px dashed #c4cbd3; border-radius: 10px; padding: 34px; text-align: center; color: var(--muted); }
.empty-title { font-weight: 650; color: var(--ink); font-size: 15px; margin: 0 0 4px; }
.error { background: var(--bad-bg); color: var(--bad); border: 1px solid #f3b8b2; border-radius: 8px; padding: 10px 14px; margin-bottom: 14px; }
.notice { background: #e8f1fb; color: #0b4a7a; border: 1px solid #b9d5f1; border-radius: 8px; padding: 10px 14px; margin-bottom: 14px; }
.cards { display: grid; gap: 14px; }
.card { background: var(--panel); border: 1px solid var(--line); border-left: 4px solid #e0a100; border-radius: 10px; padding: 16px 18px; }
.card header { display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: baseline; margin-bottom: 10px; }
.card .who-asked { font-weight: 650; }
.card dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 14px; margin: 10px 0; }
.card dt { color: var(--muted); font-size: 12px; font-weight: 600; }
.card dd { margin: 0; }
.decide { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin-top: 12px; }
.decide input[type=text] { flex: 1; min-width: 240px; }
.card .outcome { margin-top: 10px; font-weight: 600; }
.live { display: inline-flex; align-items: center; gap: 6px; font-size: 12px; color: var(--muted); }
.live::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: var(--ok); }
.live.stale::before { background: var(--bad); }
.timeline { display: grid; gap: 12px; }
.step { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
.step .meta { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: center; margin-bottom: 8px; font-size: 12.5px; }
.step .line { margin-top: 8px; font-size: 13px; }
.result { margin-top: 10px; overflow-x: auto; }
.result table.data { font-family: var(--mono); font-size: 12.5px; }
th.masked { color: var(--mask); }
td.masked { background: var(--mask-bg); color: var(--mask); }
.mask-mark { font-size: 10px; font-weight: 700; text-transform: uppercase; padding: 0 5px; border-radius: 6px; background: var(--mask-bg); color: var(--mask); margin-left: 4px; }
.summary { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px 18px; }
.summary div > span:first-child { display: block; font-size: 12px; color: var(--muted); font-weight: 600; }
.signin { max-width: 460px; margin: 48px auto; }
.signin form { display: grid; gap: 12px; }
.signin .or { text-align: center; color: var(--muted); margin: 14px 0; }
.tabs { display: flex; gap: 6px; margin-bottom: 14px; }
.tabs a { padding: 6px 12px; border-radius: 6px; text-decoration: none; color: var(--muted); font-weight: 600; }
.tabs a[aria-current="page"] { background: #e3eaf1; color: var(--ink); }
@media (max-width: 720px) { header.top { gap: 12px; padding: 0 12px; } main { padding: 14px; } }
`;
