/// The portal's own stylesheet and script, served from `/static/` (no CDN, no third-party front-end code).
enum Assets {
    static let css = #"""
        :root { --ink: #1d2330; --muted: #5b6475; --line: #d8dde6; --bg: #f6f7f9; --card: #fff;
          --accent: #1f5fbf; --accent-ink: #fff; --bad: #b3261e; --good: #1e7b34; --warn: #8a5a00; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
          background: var(--bg); }
        a { color: var(--accent); }
        a:focus, button:focus, input:focus, select:focus, textarea:focus { outline: 3px solid #f0b400; outline-offset: 2px; }
        .skip { position: absolute; left: -10000px; }
        .skip:focus { left: 1rem; top: 1rem; background: var(--card); padding: .5rem; z-index: 10; }
        header.top { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.5rem; background: var(--ink);
          color: #fff; }
        header.top .brand { font-weight: 700; letter-spacing: .04em; color: #fff; text-decoration: none; }
        header.top nav ul { display: flex; flex-wrap: wrap; gap: 1rem; list-style: none; margin: 0; padding: 0; }
        header.top nav a { color: #dfe6f3; text-decoration: none; }
        header.top nav a[aria-current="page"] { color: #fff; border-bottom: 2px solid #f0b400; }
        header.top .who { margin-left: auto; display: flex; gap: .75rem; align-items: center; }
        header.top .who button { background: transparent; color: #dfe6f3; border: 1px solid #5b6475; }
        header.top .who a.account { color: #fff; }
        main { max-width: 72rem; margin: 1.5rem auto; padding: 0 1.5rem; }
        h1 { font-size: 1.5rem; margin: 0 0 1rem; }
        h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
        .card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 1rem 1.25rem;
          margin-bottom: 1rem; }
        .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(14rem, 1fr)); gap: 1rem; }
        .figure { font-size: 2rem; font-weight: 700; }
        table { width: 100%; border-collapse: collapse; background: var(--card); }
        caption { text-align: left; font-weight: 600; padding: .5rem 0; }
        th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { font-weight: 600; color: var(--muted); }
        form.inline { display: inline; }
        form.stack label { display: block; margin: .6rem 0 .2rem; font-weight: 600; }
        form.row { display: flex; flex-wrap: wrap; gap: .75rem; align-items: flex-end; }
        form.row label { display: flex; flex-direction: column; font-weight: 600; font-size: .9rem; }
        input, select, textarea { font: inherit; padding: .4rem .5rem; border: 1px solid #9aa3b2; border-radius: 4px;
          background: #fff; color: var(--ink); }
        textarea { width: 100%; min-height: 5rem; font-family: ui-monospace, monospace; }
        button { font: inherit; padding: .45rem .9rem; border-radius: 4px; border: 1px solid var(--accent);
          background: var(--accent); color: var(--accent-ink); cursor: pointer; }
        button.danger { background: var(--bad); border-color: var(--bad); }
        button.plain { background: #fff; color: var(--accent); }
        .status { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: .85rem; }
        .status.good { background: #e3f3e6; color: var(--good); }
        .status.bad { background: #fbe4e2; color: var(--bad); }
        .status.off { background: #eceef2; color: var(--muted); }
        .notice { border-left: 4px solid var(--accent); background: #eaf1fb; padding: .75rem 1rem; margin-bottom: 1rem; }
        .notice.error { border-color: var(--bad); background: #fbe4e2; }
        .secret { font-family: ui-monospace, monospace; word-break: break-all; background: #fff8e1;
          border: 1px dashed var(--warn); padding: .5rem; }
        pre { background: #0f1420; color: #e6ebf5; padding: .75rem; border-radius: 4px; overflow: auto; }
        textarea.document { min-height: 22rem; }
        .diff { font-family: ui-monospace, monospace; white-space: pre-wrap; background: var(--card);
          border: 1px solid var(--line); padding: .5rem; }
        .diff .removed { background: #fbe4e2; }
        .diff .added { background: #e3f3e6; }
        .muted { color: var(--muted); }
        .signin { max-width: 24rem; margin: 4rem auto; }
        .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); gap: 1rem; }
        .chart svg { width: 100%; height: 6rem; background: var(--card); border: 1px solid var(--line); }
        .chart rect { fill: var(--accent); }
        .chart.bad rect { fill: var(--bad); }
        .state-met { color: var(--good); } .state-partial { color: var(--warn); } .state-not-met { color: var(--bad); }
        @media print { header.top, form, .no-print { display: none; } body { background: #fff; } }
        """#

    static let javaScript = #"""
        // Warden portal: confirmations for destructive actions and copying secrets shown once. No dependencies.
        document.addEventListener("submit", function (event) {
          var message = event.target.getAttribute("data-confirm");
          if (message && !window.confirm(message)) { event.preventDefault(); }
        });
        document.addEventListener("click", function (event) {
          var target = event.target.closest("[data-copy]");
          if (!target) { return; }
          var text = document.getElementById(target.getAttribute("data-copy")).textContent;
          navigator.clipboard.writeText(text).then(function () { target.textContent = "Copied"; });
        });
        """#
}
