/*
 * page.c - the page customers use: enter a point (or tap the unit square),
 * see the class and its probability, and the model's decision regions drawn
 * from one batched V2 request. Plain HTML, a stylesheet and a script, all
 * served by kfboot-predict itself (no external assets), written for the
 * strict Content-Security-Policy KF_PAGE_CSP: no inline script or style,
 * everything from 'self'. A query such as "/?x=0.1,0.9" fills the point and
 * asks for its prediction when the page loads (links, and the browser test).
 */
#include <stdlib.h>
#include <string.h>

#include "predict/predict.h"

/* The model name is checked at load ([A-Za-z0-9._-]) and class labels are
 * escaped, so the HTML below is safe to assemble with printf. */
static void add_html_escaped(struct kf_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': kf_buf_adds(b, "&lt;"); break;
		case '>': kf_buf_adds(b, "&gt;"); break;
		case '&': kf_buf_adds(b, "&amp;"); break;
		case '"': kf_buf_adds(b, "&quot;"); break;
		case '\'': kf_buf_adds(b, "&#39;"); break;
		default: kf_buf_addch(b, *s);
		}
	}
}

char *kf_page_html(const struct kf_model *m)
{
	struct kf_buf b = KF_BUF_INIT;
	size_t i;

	kf_buf_addf(&b,
		"<!doctype html>\n<html lang=\"en\">\n<head>\n"
		"<meta charset=\"utf-8\">\n"
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		"<title>%s: prediction</title>\n"
		"<link rel=\"stylesheet\" href=\"/app.css\">\n"
		"<script src=\"/app.js\" defer></script>\n"
		"</head>\n<body>\n"
		"<main id=\"app\" data-model=\"%s\" data-inputs=\"%zu\" "
		"data-threshold=\"%.17g\" data-class0=\"",
		m->name, m->name, m->inputs, m->threshold);
	add_html_escaped(&b, m->classes[0]);
	kf_buf_adds(&b, "\" data-class1=\"");
	add_html_escaped(&b, m->classes[1]);
	kf_buf_addf(&b, "\">\n<h1>Model <code>%s</code></h1>\n"
		    "<form id=\"form\" autocomplete=\"off\">\n", m->name);
	for (i = 0; i < m->inputs; i++)
		kf_buf_addf(&b,
			    "<label>x%zu <input id=\"x%zu\" type=\"number\" step=\"any\" "
			    "inputmode=\"decimal\" required></label>\n",
			    i + 1, i);
	kf_buf_adds(&b,
		"<button type=\"submit\">Predict</button>\n</form>\n"
		"<p id=\"result\" role=\"status\" aria-live=\"polite\">"
		"Enter a point, or tap the square.</p>\n"
		"<div id=\"mapbox\" class=\"hidden\">\n"
		"<canvas id=\"map\" width=\"320\" height=\"320\" "
		"aria-label=\"decision regions of the model on the unit square; tap to choose a point\"></canvas>\n"
		"<p class=\"legend\" id=\"legend\"><span class=\"sw c0\"></span> class ");
	add_html_escaped(&b, m->classes[0]);
	kf_buf_adds(&b, " &nbsp; <span class=\"sw c1\"></span> class ");
	add_html_escaped(&b, m->classes[1]);
	kf_buf_addf(&b,
		" &nbsp; (x1 left to right, x2 bottom to top, 0 to 1)</p>\n</div>\n"
		"<noscript><p>This page needs JavaScript. The API is "
		"<code>POST /v2/models/%s/infer</code>.</p></noscript>\n"
		"</main>\n</body>\n</html>\n",
		m->name);
	return kf_buf_detach(&b, NULL);
}

const char kf_page_css[] =
	"*{box-sizing:border-box}\n"
	"body{font-family:'DejaVu Sans',system-ui,sans-serif;margin:0;padding:1rem;"
	"max-width:36rem;margin-inline:auto;color:#1b1b1b;background:#fafafa}\n"
	"h1{font-size:1.4rem}\n"
	"form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end}\n"
	"label{display:flex;flex-direction:column;font-size:.9rem}\n"
	"input{font-size:1.1rem;width:7rem;padding:.4rem}\n"
	"button{font-size:1.1rem;padding:.45rem 1rem}\n"
	"#result{font-size:1.2rem;min-height:1.5em;font-weight:bold}\n"
	"#result.error{color:#b00020}\n"
	"canvas{width:100%;max-width:320px;height:auto;aspect-ratio:1;"
	"border:1px solid #888;touch-action:manipulation;cursor:crosshair}\n"
	".hidden{display:none}\n"
	".legend{font-size:.85rem}\n"
	".sw{display:inline-block;width:.9em;height:.9em;border:1px solid #555;"
	"vertical-align:middle}\n"
	".c0{background:#5b8ff9}.c1{background:#f6bd16}\n";

const char kf_page_js[] =
	"'use strict';\n"
	"// The customer page: asks the V2 API of the server that served it.\n"
	"(function () {\n"
	"  const app = document.getElementById('app');\n"
	"  const model = app.dataset.model;\n"
	"  const n = parseInt(app.dataset.inputs, 10);\n"
	"  const labels = [app.dataset.class0, app.dataset.class1];\n"
	"  const threshold = parseFloat(app.dataset.threshold);\n"
	"  const form = document.getElementById('form');\n"
	"  const result = document.getElementById('result');\n"
	"  const canvas = document.getElementById('map');\n"
	"  const url = '/v2/models/' + encodeURIComponent(model) + '/infer';\n"
	"  const G = 48;\n"
	"  let grid = null;\n"
	"  let point = null;\n"
	"\n"
	"  async function infer(rows) {\n"
	"    const body = {inputs: [{name: 'x', datatype: 'FP64', shape: [rows.length, n],\n"
	"                            data: rows.flat()}], outputs: [{name: 'probability'}]};\n"
	"    const r = await fetch(url, {method: 'POST', body: JSON.stringify(body),\n"
	"                                headers: {'Content-Type': 'application/json'}});\n"
	"    const j = await r.json().catch(() => ({error: 'HTTP ' + r.status}));\n"
	"    if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status));\n"
	"    return j.outputs[0].data;\n"
	"  }\n"
	"\n"
	"  function color(p) {\n"
	"    const a = [91, 143, 249], b = [246, 189, 22];\n"
	"    return 'rgb(' + a.map((v, i) => Math.round(v + (b[i] - v) * p)).join(',') + ')';\n"
	"  }\n"
	"\n"
	"  function draw() {\n"
	"    if (!grid) return;\n"
	"    const ctx = canvas.getContext('2d');\n"
	"    const w = canvas.width, h = canvas.height, c = w / G;\n"
	"    for (let j = 0; j < G; j++)\n"
	"      for (let i = 0; i < G; i++) {\n"
	"        ctx.fillStyle = color(grid[j * G + i]);\n"
	"        ctx.fillRect(i * c, h - (j + 1) * c, c + 1, c + 1);\n"
	"      }\n"
	"    if (point) {\n"
	"      const x = point[0] * w, y = h - point[1] * h;\n"
	"      ctx.beginPath(); ctx.arc(x, y, 7, 0, 2 * Math.PI);\n"
	"      ctx.fillStyle = '#111'; ctx.fill();\n"
	"      ctx.lineWidth = 2; ctx.strokeStyle = '#fff'; ctx.stroke();\n"
	"    }\n"
	"  }\n"
	"\n"
	"  async function loadMap() {\n"
	"    const rows = [];\n"
	"    for (let j = 0; j < G; j++)\n"
	"      for (let i = 0; i < G; i++) rows.push([(i + 0.5) / G, (j + 0.5) / G]);\n"
	"    grid = await infer(rows);\n"
	"    draw();\n"
	"  }\n"
	"\n"
	"  async function predict(x) {\n"
	"    result.classList.remove('error');\n"
	"    result.textContent = 'Asking the model\\u2026';\n"
	"    try {\n"
	"      const p1 = (await infer([x]))[0];\n"
	"      const k = p1 >= threshold ? 1 : 0;\n"
	"      const pk = k ? p1 : 1 - p1;\n"
	"      result.dataset.class = labels[k];\n"
	"      result.dataset.p1 = String(p1);\n"
	"      result.textContent = 'Class ' + labels[k] + ' with probability ' +\n"
	"        pk.toFixed(3) + ' (x = ' + x.join(', ') + ')';\n"
	"      point = n === 2 ? x : null;\n"
	"      draw();\n"
	"    } catch (e) {\n"
	"      result.classList.add('error');\n"
	"      result.textContent = 'Error: ' + e.message;\n"
	"    }\n"
	"  }\n"
	"\n"
	"  function read() {\n"
	"    const x = [];\n"
	"    for (let i = 0; i < n; i++) {\n"
	"      const v = parseFloat(document.getElementById('x' + i).value);\n"
	"      if (!Number.isFinite(v)) return null;\n"
	"      x.push(v);\n"
	"    }\n"
	"    return x;\n"
	"  }\n"
	"\n"
	"  function fill(x) {\n"
	"    x.forEach((v, i) => { document.getElementById('x' + i).value = String(v); });\n"
	"  }\n"
	"\n"
	"  form.addEventListener('submit', (ev) => {\n"
	"    ev.preventDefault();\n"
	"    const x = read();\n"
	"    if (x) predict(x);\n"
	"  });\n"
	"\n"
	"  if (n === 2) {\n"
	"    document.getElementById('mapbox').classList.remove('hidden');\n"
	"    canvas.addEventListener('click', (ev) => {\n"
	"      const r = canvas.getBoundingClientRect();\n"
	"      const x = [(ev.clientX - r.left) / r.width, 1 - (ev.clientY - r.top) / r.height]\n"
	"        .map((v) => Math.round(Math.min(1, Math.max(0, v)) * 1000) / 1000);\n"
	"      fill(x);\n"
	"      predict(x);\n"
	"    });\n"
	"    loadMap().catch((e) => { document.getElementById('legend').textContent = 'Map unavailable: ' + e.message; });\n"
	"  }\n"
	"\n"
	"  const q = new URLSearchParams(window.location.search).get('x');\n"
	"  if (q) {\n"
	"    const x = q.split(',').map(Number);\n"
	"    if (x.length === n && x.every(Number.isFinite)) { fill(x); predict(x); }\n"
	"  }\n"
	"})();\n";
