"""Render the collected run into one self-contained HTML file (inline CSS, images as data URIs)."""

from __future__ import annotations

import datetime as _dt
import html
import json
from urllib.parse import quote

from lingalign.charts import training_curves
from lingalign.provenance import summarize
from lingalign.report import charts
from lingalign.report.collect import COPY_SOURCE, baseline_model, score_table

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;\
max-width:1100px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
.sub{color:#666;margin-top:0} table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .55rem;text-align:right} th{background:#f5f5f5}
td.name,th.name{text-align:left} .up{color:#0a7d32} .down{color:#b3261e} .muted{color:#888}
.charts{display:flex;flex-wrap:wrap;gap:1rem} .charts img{max-width:100%;border:1px solid #eee}
pre{background:#f7f7f7;padding:.8rem;overflow:auto;font-size:.8rem;max-height:28rem}
details{margin:.5rem 0} h3{margin:1.4rem 0 .2rem;font-size:1.05rem}
.task{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start} .task h3,.task p{flex-basis:100%;margin-bottom:0}
.task img{max-width:100%;border:1px solid #eee} .wide{overflow-x:auto;max-width:100%}
"""


def _e(text) -> str:
    return html.escape(str(text))


def _baseline(models: list[str]) -> str | None:
    return baseline_model(models)


def _cell(value: float | None, ref: float | None) -> str:
    """A score, and under it the difference from the baseline's score (absolute, then relative)."""
    if value is None:
        return "<td class=muted>–</td>"
    if ref is None:
        return f"<td>{value:.1f}</td>"
    diff = value - ref
    cls = "up" if diff > 0 else "down" if diff < 0 else "muted"
    rel = f", {100 * diff / ref:+.0f}%" if ref else ""
    return f"<td>{value:.1f}<br><span class={cls}>{diff:+.1f}{rel}</span></td>"


_VARIANTS = {"direct": "direct answer", "cot": "step by step, in the question's language",
             "cot-en": "step by step, in English (pivot)"}


def _task_caption(task: str, results: dict) -> str:
    """What a row's number means beyond the task name: the math prompt variant, lm-eval's source."""
    entries = {model: (data.get("tasks") or {}).get(task) or {} for model, data in results.items()}
    variants = sorted({e.get("prompt_variant") for e in entries.values()} - {None})
    parts = [f"prompt: {_VARIANTS.get(v, v)}" for v in variants]
    from_lm_eval = [m for m, e in entries.items() if e.get("source") == "lm-eval"]
    if from_lm_eval:
        parts.append("scored by lm-evaluation-harness: " + ", ".join(from_lm_eval))
    return f"<p class=muted>{_e('; '.join(parts))}</p>" if parts else ""


def _task_block(task: str, metrics: list[str], models: list[str], values: dict, base: str | None,
                caption: str = "") -> str:
    """One task: a table with a row per model that has a score on it, and the same numbers as bars.

    One table per task (not one for the run) keeps a study of many tasks readable: a row of 20
    task x metric columns does not fit a page. The copy-the-source row is a floor, not a system,
    so it carries no difference from the baseline.
    """
    present = [m for m in models if any((m, task, metric) in values for metric in metrics)]
    head = "".join(f"<th>{_e(metric)}</th>" for metric in metrics)
    rows = []
    for model in present:
        compare = base in present and model not in (base, COPY_SOURCE)
        cells = "".join(_cell(values.get((model, task, metric)),
                              values.get((base, task, metric)) if compare else None)
                        for metric in metrics)
        rows.append(f"<tr><td class=name>{_e(model)}</td>{cells}</tr>")
    chart = charts.task_bars(task, metrics, present, values, palette=models)
    browse = (f'<a href="/browse?task={_e(quote(task))}"'
              ' title="items of this task (open this report from lingalign serve)">browse items</a>')
    return (f"<div class=task><h3>{_e(task)}</h3>{caption}<div class=wide>{browse}"
            f"<table><tr><th class=name>model</th>{head}</tr>"
            f"{''.join(rows)}</table></div><img alt=\"{_e(task)}\" src=\"{chart}\"></div>")


def _score_section(results: dict) -> str:
    models, columns, values = score_table(results)
    if not columns:
        return "<h2>Scores</h2><p class=muted>No evaluation results in this run yet.</p>"
    base = _baseline(models)
    note = f"Differences are against <b>{_e(base)}</b> (absolute points, then relative %)." if base else ""
    if COPY_SOURCE in models:
        note += (f" The row <b>{_e(COPY_SOURCE)}</b> scores each translation task's source sentences as if they"
                 " were the output: a model below it has not yet learned to translate.")
    tasks = list(dict.fromkeys(t for t, _ in columns))
    blocks = "".join(_task_block(t, [m for tt, m in columns if tt == t], models, values, base,
                                 _task_caption(t, results))
                     for t in tasks)
    note += (" The <i>browse items</i> links open each item's answers in <code>lingalign serve RUN_DIR</code>"
             " (docs/serve.md).")
    return "<h2>Scores</h2><p>All metrics are on a 0-100 scale. " + note + "</p>" + blocks


def _answer_language_section(results: dict) -> str:
    rows = []
    for model, data in results.items():
        for task, entry in (data.get("tasks") or {}).items():
            item = (entry.get("metrics") or {}).get("answer_lang")
            if isinstance(item, dict) and "value" in item:
                rows.append(f"<tr><td class=name>{_e(model)}</td><td class=name>{_e(task)}</td>"
                            f"<td>{_e(item.get('expected', ''))}</td><td>{item['value']:.1f}%</td></tr>")
    if not rows:
        return ""
    return ("<h2>Answer language</h2><p>Share of answers detected (py3langid) in the expected language. "
            "Short runs move this first, and translation quality later.</p>"
            "<table><tr><th class=name>model</th><th class=name>task</th><th>expected</th><th>share</th></tr>"
            + "".join(rows) + "</table>")


def _consistency_section(rows: list[dict]) -> str:
    """Cross-lingual consistency beside answer language: each value with its interval, and the
    difference from the baseline with a paired interval (``report.consistency``)."""
    if not rows:
        return ""
    cells = []
    for r in rows:
        value = f"{r['value']:.1f}%" + (f" [{r['low']:.1f}, {r['high']:.1f}]" if "low" in r else "")
        d = r.get("diff")
        diff = (f"{d['delta']:+.1f} [{d['low']:+.1f}, {d['high']:+.1f}], p {d['p']:.3f}" if d else "–")
        cells.append(f"<tr><td class=name>{_e(r['model'])}</td><td class=name>{_e(r['task'])}</td>"
                     f"<td class=name>{_e(r['with'])}</td><td>{_e(r['n'])}</td><td>{value}</td><td>{diff}</td></tr>")
    return ("<h2>Cross-lingual consistency</h2><p>Share of items answered the same way in the task's language and "
            "in English (the same final number, the same option; for QA: both right or both wrong), right or "
            "wrong; bootstrap 95% intervals, and each model's difference from the baseline paired on the items "
            "(points).</p><div class=wide><table><tr><th class=name>model</th><th class=name>task</th>"
            "<th class=name>vs</th><th>n</th><th>consistency</th><th>vs baseline</th></tr>"
            + "".join(cells) + "</table></div>")


def _images(title: str, paths: list[str], intro: str = "") -> str:
    if not paths:
        return ""
    images = "".join(f'<img alt="{_e(p)}" src="{charts.file_data_uri(p)}">' for p in paths)
    return f"<h2>{_e(title)}</h2>{intro}<div class=charts>{images}</div>"


def _alignment_section(found: dict) -> str:
    """The alignment plots, the peak of each retrieval curve, and the paired differences from the first model."""
    report = found.get("alignment") or {}
    intro = "<p>Pooled hidden states of parallel sentences, per layer: higher means the languages sit closer.</p>"
    rows = []
    for entry in report.get("models", []):
        for lang, best in report.get("best_layer", {}).get(entry["label"], {}).items():
            cells = []
            for metric in ("retrieval_en_x", "retrieval_x_en"):
                if metric not in best:
                    continue
                layer = best[metric]["layer"]
                interval = (entry.get("intervals") or {}).get(lang, {}).get(metric)  # absent before 2026-11
                bounds = f" [{100 * interval[layer][0]:.1f}, {100 * interval[layer][1]:.1f}]" if interval else ""
                cells.append(f"<td>{100 * best[metric]['value']:.1f}{bounds} @ {layer}</td>")
            rows.append(f"<tr><td class=name>{_e(entry['label'])}</td><td class=name>en-{_e(lang)}</td>"
                        f"{''.join(cells)}</tr>")
    table = ""
    if rows:
        table = ("<p>Best layer of each retrieval curve (top-1 accuracy %, Wilson 95% interval, @ layer).</p>"
                 "<div class=wide><table><tr><th class=name>model</th><th class=name>pair</th>"
                 "<th>En->X retrieval</th><th>X->En retrieval</th></tr>" + "".join(rows) + "</table></div>")
    paired = report.get("paired") or []
    if paired:
        cells = ""
        for c in paired:
            at = c["at_reference_best"]
            cells += (f"<tr><td class=name>{_e(c['model'])} - {_e(c['reference'])}</td>"
                      f"<td class=name>en-{_e(c['lang'])}</td>"
                      f"<td class=name>{_e(c['metric'])}</td><td>{at['layer']}</td>"
                      f"<td>{100 * at['delta']:+.1f} [{100 * at['low']:+.1f}, {100 * at['high']:+.1f}]</td>"
                      f"<td>{at['p']:.3f}</td></tr>")
        table += ("<p>Each model against the first, sentence by sentence, at the layer where the first one peaks "
                  "(points; bootstrap 95% interval; exact McNemar p).</p><div class=wide><table><tr>"
                  "<th class=name>difference</th><th class=name>pair</th><th class=name>direction</th><th>layer</th>"
                  "<th>delta</th><th>p</th></tr>" + cells + "</table></div>")
    return _images("Cross-lingual alignment by layer", found["alignment_images"], intro + table)


def _scaling_section(found: dict) -> str:
    parts = []
    law = found.get("scaling_law")
    if law:
        parts.append("<details open><summary>Fitted law (law.json)</summary><pre>"
                     + _e(json.dumps(law, indent=1, ensure_ascii=False)[:6000]) + "</pre></details>")
    if found.get("allocation_text"):
        parts.append("<details open><summary>Budget allocation</summary><pre>" + _e(found["allocation_text"])
                     + "</pre></details>")
    body = _images("Scaling law", found.get("scaling_images", []))
    if not body and parts:
        body = "<h2>Scaling law</h2>"
    return body + "".join(parts)


def render(found: dict) -> str:
    sections = [
        f"<h1>lingalign report: {_e(found['name'])}</h1>",
        f"<p class=sub>{_e(found['run_dir'])} · generated {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}</p>",
        f"<p class=sub>{_e(summarize(found['provenance']))}</p>" if found.get("provenance") else "",
        _score_section(found["results"]),
        _answer_language_section(found["results"]),
        _consistency_section(found.get("consistency") or []),
    ]
    if found["train_curves"]:
        curves = training_curves(found["train_curves"])
        stages = found.get("stages") or {}
        chain = ("<p>Staged: " + "; ".join(f"{_e(name)} from {_e(start)}" for name, start in stages.items())
                 + " (only the weights carry over: each stage has its own schedule, optimizer and data order).</p>"
                 if stages else "")
        sections.append(f'<h2>Training</h2>{chain}<div class=charts><img alt="training curves" src="{curves}"></div>')
    sections.append(_alignment_section(found))
    sections.append(_images("Answer languages", found["responses_images"]))
    sections.append(_scaling_section(found))
    config = ""
    if found.get("recipe_text"):
        config += ("<details open><summary>Recipe (resolved)</summary><pre>" + _e(found["recipe_text"])
                   + "</pre></details>")
    generation = {m: d.get("generation") for m, d in found["results"].items() if d.get("generation")}
    if generation:
        config += ("<details><summary>Generation settings</summary><pre>" + _e(json.dumps(generation, indent=1))
                   + "</pre></details>")
    if found["manifests"]:
        rows = "".join(f"<tr><td class=name>{_e(k)}</td><td class=name>{_e(v['stage'])}</td>"
                       f"<td class=name><code>{_e(v['fingerprint'])}</code></td>"
                       f"<td class=name>{_e(v['created'])}</td></tr>"
                       for k, v in found["manifests"].items())
        config += ("<details><summary>Stage outputs and fingerprints</summary><table><tr><th class=name>folder</th>"
                   "<th class=name>stage</th><th class=name>fingerprint</th><th class=name>created</th></tr>"
                   f"{rows}</table></details>")
    if found["versions"]:
        config += ("<details><summary>Versions</summary><pre>" + _e(json.dumps(found["versions"], indent=1))
                   + "</pre></details>")
    sections.append("<h2>Configuration</h2>" + (config or "<p class=muted>No recipe or manifests found.</p>"))
    body = "\n".join(s for s in sections if s)
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>lingalign report: {_e(found['name'])}"
            f"</title><style>{CSS}</style></head><body>{body}</body></html>\n")
