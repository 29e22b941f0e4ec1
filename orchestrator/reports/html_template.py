"""The Jinja2 template of `results.report`: one self-contained page, printable, no scripts.

Kept as a Python string so that it travels with the package without package-data rules.
Everything it shows is prepared by `orchestrator.reports.html`; the template only lays out.
"""

TEMPLATE = """{% macro result_table(table) %}
  <h3>{{ table.title }}</h3>
  {% for group in table.groups %}
  <table>
    {% if group.heading %}<caption>{{ group.heading }}</caption>{% endif %}
    <thead><tr><th>{{ table.rows_axis }}</th>
      {% for col in table.cols %}<th>{{ col }}</th>{% endfor %}</tr></thead>
    <tbody>
    {% for row in group.rows %}
      <tr><th>{{ row.label }}</th>
      {% for cell in row.cells %}
        <td class="{{ cell.css }}">{{ cell.value }}
          {% if cell.ratio %}<span class="ratio">{{ cell.ratio }}</span>{% endif %}</td>
      {% endfor %}</tr>
    {% endfor %}
    </tbody>
  </table>
  {% endfor %}
  {% if table.notes %}<ul class="notes">
    {% for note in table.notes %}<li>{{ note }}</li>{% endfor %}</ul>{% endif %}
{% endmacro %}
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>netmatrix: campaign {{ info.name }}</title>
<style>
  body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 2em auto;
         max-width: 72em; color: #111; line-height: 1.4; }
  h1 { font-size: 1.6em; border-bottom: 2px solid #111; }
  h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #999; }
  h3 { font-size: 1.05em; }
  table { border-collapse: collapse; margin: 0.6em 0 1em; }
  caption { text-align: left; font-style: italic; padding-bottom: 0.3em; }
  th, td { padding: 0.25em 0.7em; border-top: 1px solid #ccc; vertical-align: top; }
  thead th { border-bottom: 2px solid #111; border-top: 2px solid #111; text-align: left; }
  tbody tr:last-child td { border-bottom: 2px solid #111; }
  td.num { text-align: right; white-space: nowrap; }
  td.state { text-align: right; font-style: italic; color: #555; }
  td .ratio { display: block; font-size: 0.85em; color: #333; }
  ul.notes { font-size: 0.9em; color: #333; }
  figure { margin: 1em 0 2em; }
  figure img { max-width: 100%; border: 1px solid #ddd; }
  figcaption { font-size: 0.9em; color: #333; }
  pre { background: #f4f4f4; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
  .diff { display: flex; flex-wrap: wrap; gap: 0 2em; align-items: flex-start; }
  code { font-size: 0.95em; }
</style>
</head>
<body>
<h1>netmatrix: campaign {{ info.name }}</h1>

<h2 id="provenance">Provenance</h2>
<table>
  <tbody>
    <tr><th>campaign</th><td>{{ info.name }}</td></tr>
    <tr><th>spec sha256</th><td><code>{{ info.spec_hash }}</code></td></tr>
    <tr><th>netmatrix</th><td>{{ info.version }}</td></tr>
    <tr><th>git commit</th><td><code>{{ info.git_commit or "unknown" }}</code></td></tr>
    <tr><th>created</th><td>{{ info.created_at.strftime("%Y-%m-%d %H:%M:%S UTC") }}</td></tr>
    <tr><th>current runs</th><td>{{ statuses }}</td></tr>
  </tbody>
</table>
<table>
  <caption>Hosts as measured (one line per host snapshot)</caption>
  <thead><tr><th>host</th><th>kernel</th><th>distribution</th><th>CPUs</th>
    <th>memory (MB)</th><th>Docker</th><th>perf</th><th>taken</th></tr></thead>
  <tbody>
  {% for host in snapshots %}
    <tr><td>{{ host.host }}</td><td>{{ host.kernel }}</td><td>{{ host.distro or "-" }}</td>
      <td class="num">{{ host.cpus or "-" }}</td><td class="num">{{ host.mem_mb or "-" }}</td>
      <td>{{ host.docker_version or "-" }}</td><td>{{ host.perf_version or "-" }}</td>
      <td>{{ host.taken_at.strftime("%Y-%m-%d %H:%M:%S UTC") }}</td></tr>
  {% endfor %}
  </tbody>
</table>

<h2 id="tables">Tables</h2>
{% for table in tables %}{{ result_table(table) }}{% endfor %}

<h2 id="ftrace">ftrace: graphed functions</h2>
{% if latency %}
<p>ftrace function_graph, in a pass of its own after perf's: each run's mean duration of a
graphed function (µs), mean with its 95% confidence interval across runs. A kernel without
function_graph (a Docker node shares the controller's) says so in the kernel's words.</p>
{% for table in latency %}{{ result_table(table) }}{% endfor %}
{% else %}
<p><em>No run of this campaign recorded ftrace (the spec has no <code>trace.ftrace</code>).</em></p>
{% endif %}

<h2 id="figures">Figures</h2>
{% for figure in figures %}
  <figure>
    {% if figure.png %}<img alt="{{ figure.caption }}" src="data:image/png;base64,{{ figure.png }}">
    {% else %}<p><em>Not drawn: {{ figure.missing }}</em></p>{% endif %}
    <figcaption>{{ figure.caption }}</figcaption>
  </figure>
{% endfor %}

<h2 id="functions">Kernel functions per mode against {{ baseline }}</h2>
<p>From the stacks of the latest ok traced runs, summed over hosts and kernels: in how many
trace records of a mode a function appears.</p>
{% for diff in diffs %}
  <h3>{{ diff.mode }} against {{ baseline }}
    ({{ diff.target_records }} records against {{ diff.base_records }})</h3>
  {% if diff.missing_reason %}<p><em>{{ diff.missing_reason }}</em></p>{% else %}
  <div class="diff">
  {% for part in diff.parts %}
    <table>
      <caption>{{ part.title }} ({{ part.total }}{% if part.total > part.rows|length %},
        first {{ part.rows|length }}{% endif %})</caption>
      <thead><tr><th>function</th><th>records</th>
        {% if part.shares %}<th>{{ baseline }}</th><th>{{ diff.mode }}</th>{% endif %}</tr></thead>
      <tbody>
      {% for item in part.rows %}
        <tr><td><code>{{ item.function }}</code></td><td class="num">{{ item.samples }}</td>
        {% if part.shares %}<td class="num">{{ "%.2f%%"|format(100 * item.baseline_share) }}</td>
          <td class="num">{{ "%.2f%%"|format(100 * item.target_share) }}</td>{% endif %}</tr>
      {% else %}
        <tr><td colspan="2"><em>none</em></td></tr>
      {% endfor %}
      </tbody>
    </table>
  {% endfor %}
  </div>
  {% endif %}
{% endfor %}

<h2 id="spec">Spec</h2>
<pre>{{ info.spec_text }}</pre>
</body>
</html>
"""
