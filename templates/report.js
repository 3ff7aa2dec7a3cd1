/* report.html script: inlined into the report, hashed into its Content-Security-Policy.
   Progressive enhancement only: without it every finding and all evidence stay readable.
   It never parses HTML: text goes through textContent, state through the hidden/open properties. */
(function () {
  'use strict';
  var doc = document;
  var slice = Array.prototype.slice;
  var data = {};
  try {
    data = JSON.parse(doc.getElementById('report-data').textContent) || {};
  } catch (e) {
    data = {};
  }
  var accountNames = {};
  (data.accounts || []).forEach(function (a) {
    var name = String(a[2]);
    if (name.length > 80) { name = name.slice(0, 80) + '…'; }
    accountNames[String(a[0])] = name + ' (' + a[1] + ')';
  });

  /* Filters */
  var form = doc.getElementById('filters');
  var selects = form ? slice.call(form.querySelectorAll('select[data-key]')) : [];
  var result = doc.getElementById('f-result');
  var printNote = doc.getElementById('f-print');
  var noneMatch = doc.getElementById('f-none');
  var groups = slice.call(doc.querySelectorAll('section.acct')).map(function (section) {
    return {
      section: section,
      account: section.getAttribute('data-a'),
      passes: section.querySelector('details.passes'),
      quiet: section.querySelector('p.none'),
      tables: slice.call(section.querySelectorAll('table.findings')).map(function (table) {
        return {
          table: table,
          rows: slice.call(table.querySelectorAll('tbody tr[data-s]')).map(function (row) {
            return {
              row: row,
              s: row.getAttribute('data-s'),
              v: row.getAttribute('data-v'),
              r: row.getAttribute('data-r'),
              g: row.getAttribute('data-g')
            };
          })
        };
      })
    };
  });
  var total = 0;
  groups.forEach(function (g) {
    g.tables.forEach(function (t) { total += t.rows.length; });
  });

  function filters() {
    var f = { s: '', v: '', r: '', a: '', g: '' };
    selects.forEach(function (select) { f[select.getAttribute('data-key')] = select.value; });
    return f;
  }

  function describe() {
    return selects.filter(function (select) { return select.value !== ''; }).map(function (select) {
      var label = doc.querySelector('label[for="' + select.id + '"]');
      var option = select.options[select.selectedIndex];
      var value = select.getAttribute('data-key') === 'a' && accountNames[select.value]
        ? accountNames[select.value] : option.text;
      return (label ? label.textContent : '') + ': ' + value;
    });
  }

  function apply() {
    var f = filters();
    var active = selects.some(function (select) { return select.value !== ''; });
    var shown = 0;
    groups.forEach(function (g) {
      var groupShown = 0;
      var accountMatches = f.a === '' || f.a === g.account;
      g.tables.forEach(function (t) {
        var tableShown = 0;
        for (var i = 0; i < t.rows.length; i++) {
          var r = t.rows[i];
          var ok = accountMatches &&
            (f.s === '' || r.s === f.s) && (f.v === '' || r.v === f.v) &&
            (f.r === '' || r.r === f.r) && (f.g === '' || r.g === f.g);
          if (r.row.hidden === ok) { r.row.hidden = !ok; }
          if (ok) { tableShown++; }
        }
        t.table.hidden = tableShown === 0;
        groupShown += tableShown;
      });
      if (g.passes) {
        var passTable = g.passes.querySelector('table.findings');
        g.passes.hidden = !!(passTable && passTable.hidden);
        /* A status that only the collapsed checks have (PASS, NOT_APPLICABLE, SKIPPED) opens them. */
        if (f.s !== '' && !g.passes.hidden) { g.passes.open = true; }
      }
      if (g.quiet) { g.quiet.hidden = active; }
      g.section.hidden = groupShown === 0;
      shown += groupShown;
    });
    if (noneMatch) { noneMatch.hidden = shown > 0; }
    var parts = describe();
    if (result) {
      result.textContent = active
        ? 'Showing ' + shown + ' of ' + total + ' findings (' + parts.join('; ') + ').'
        : 'Showing all ' + total + ' findings.';
    }
    if (printNote) {
      printNote.hidden = !active;
      printNote.textContent = active
        ? 'Printed with filters, ' + shown + ' of ' + total + ' findings: ' + parts.join('; ') + '. Clear the filters to print every finding.'
        : '';
    }
  }

  if (form) {
    form.hidden = false;
    form.addEventListener('change', apply);
    form.addEventListener('submit', function (event) { event.preventDefault(); });
    form.addEventListener('reset', function () { window.setTimeout(apply, 0); });
    apply();
  }

  /* The summary's matrix: which accounts show (by default those that need attention), by OU
     and by name or id. Rows carry their worst status (data-w) and worst FAIL severity (data-v). */
  var matrixForm = doc.getElementById('m-filters');
  if (matrixForm) {
    var show = doc.getElementById('m-show');
    var ou = doc.getElementById('m-ou');
    var search = doc.getElementById('m-search');
    var matrixResult = doc.getElementById('m-result');
    var matrixNone = doc.getElementById('m-none');
    var bodies = slice.call(doc.querySelectorAll('table.matrix tbody[data-o]')).map(function (body) {
      return {
        body: body,
        ou: body.getAttribute('data-o'),
        rows: slice.call(body.querySelectorAll('tr[data-a]')).map(function (row) {
          var index = row.getAttribute('data-a');
          return {
            row: row,
            w: row.getAttribute('data-w'),
            v: row.getAttribute('data-v'),
            text: (accountNames[index] || '').toLowerCase()
          };
        })
      };
    });
    var matches = function (r, what) {
      var attention = r.w === 'ERROR' || r.w === 'FAIL' || r.w === 'WARN';
      switch (what) {
        case 'all': return true;
        case 'ERROR': return r.w === 'ERROR';
        case 'critical-high': return r.v === 'critical' || r.v === 'high';
        case 'FAIL': return r.v !== '';
        case 'WARN': return r.w === 'WARN';
        case 'ok': return !attention;
        default: return attention;
      }
    };
    var applyMatrix = function () {
      var what = show.value;
      var needle = search.value.trim().toLowerCase();
      var shown = 0;
      var total = 0;
      bodies.forEach(function (b) {
        var inBody = 0;
        b.rows.forEach(function (r) {
          total++;
          var ok = (ou.value === '' || ou.value === b.ou) && matches(r, what) &&
            (needle === '' || r.text.indexOf(needle) !== -1);
          if (r.row.hidden === ok) { r.row.hidden = !ok; }
          if (ok) { inBody++; }
        });
        b.body.hidden = inBody === 0;
        shown += inBody;
      });
      if (matrixNone) { matrixNone.hidden = shown > 0; }
      matrixResult.textContent = 'Showing ' + shown + ' of ' + total + ' accounts.';
    };
    matrixForm.hidden = false;
    matrixForm.addEventListener('change', applyMatrix);
    matrixForm.addEventListener('input', applyMatrix);
    matrixForm.addEventListener('submit', function (event) { event.preventDefault(); });
    matrixForm.addEventListener('reset', function () { window.setTimeout(applyMatrix, 0); });
    applyMatrix();
  }

  /* Evidence: expand / collapse all. */
  var evidenceDetails = function () { return slice.call(doc.querySelectorAll('#evidence details')); };
  var tools = doc.querySelector('#evidence .tools');
  if (tools) {
    tools.hidden = false;
    doc.getElementById('ev-open').addEventListener('click', function () {
      evidenceDetails().forEach(function (d) { d.open = true; });
    });
    doc.getElementById('ev-close').addEventListener('click', function () {
      evidenceDetails().forEach(function (d) { d.open = false; });
    });
  }

  /* Anchors: open the collapsed sections around the target; clear filters that hide it. */
  function reveal() {
    var id = window.location.hash.slice(1);
    if (!id) { return; }
    try { id = decodeURIComponent(id); } catch (e) { return; }
    var target = doc.getElementById(id);
    if (!target) { return; }
    if (form && target.closest('[hidden]') && target.closest('#findings')) {
      form.reset();
      apply();
    }
    for (var node = target; node; node = node.parentElement) {
      if (node.tagName === 'DETAILS') { node.open = true; }
    }
    target.scrollIntoView();
  }
  window.addEventListener('hashchange', reveal);
  reveal();

  /* Print: every collapsed section prints open, then closes again. */
  var reopened = [];
  window.addEventListener('beforeprint', function () {
    slice.call(doc.querySelectorAll('details:not([open])')).forEach(function (d) {
      d.open = true;
      reopened.push(d);
    });
  });
  window.addEventListener('afterprint', function () {
    reopened.forEach(function (d) { d.open = false; });
    reopened = [];
  });
}());
