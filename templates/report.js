/* The report's script (the summary, the account pages, the OU pages): inlined into each page,
   hashed into its Content-Security-Policy. Progressive enhancement only: without it every
   finding and all evidence stay readable. It never parses HTML: text goes through textContent,
   state through the hidden/open properties. At load it only looks at what the page shows (a
   bounded number of rows); the organization's account list is read on the first search. */
(function () {
  'use strict';
  var doc = document;
  var slice = Array.prototype.slice;

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
      return (label ? label.textContent : '') + ': ' + option.text;
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

  /* The matrix (the summary's worst accounts, an OU page's accounts): which accounts show (by
     default those that need attention), by OU and by name or id. Rows carry their worst status
     (data-w) and worst FAIL severity (data-v). On the summary a search also lists the matching
     accounts of the whole organization that the matrix does not show, from the report's data. */
  var matrixForm = doc.getElementById('m-filters');
  if (matrixForm) {
    var show = doc.getElementById('m-show');
    var ou = doc.getElementById('m-ou');
    var search = doc.getElementById('m-search');
    var matrixResult = doc.getElementById('m-result');
    var matrixNone = doc.getElementById('m-none');
    var found = doc.getElementById('m-found');
    var bodies = slice.call(doc.querySelectorAll('table.matrix tbody[data-o]')).map(function (body) {
      return {
        body: body,
        ou: body.getAttribute('data-o'),
        rows: slice.call(body.querySelectorAll('tr[data-a]')).map(function (row) {
          return { row: row, a: row.getAttribute('data-a'), w: row.getAttribute('data-w'), v: row.getAttribute('data-v') };
        })
      };
    });
    /* The account column's text (name and id), read when a search first needs it. */
    var textOf = function (r) {
      if (r.text === undefined) { r.text = r.row.querySelector('th').textContent.toLowerCase(); }
      return r.text;
    };
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
    /* The organization's accounts [index, id, name, page, worst status], parsed once. */
    var organization = null;
    var accounts = function () {
      if (organization === null) {
        var block = doc.getElementById('report-data');
        try {
          organization = (block && JSON.parse(block.textContent).accounts) || [];
        } catch (e) {
          organization = [];
        }
      }
      return organization;
    };
    var FOUND_SHOWN = 20;
    var listFound = function (needle, inMatrix) {
      if (!found) { return; }
      var list = doc.getElementById('m-found-list');
      while (list.firstChild) { list.removeChild(list.firstChild); }
      if (needle === '') { found.hidden = true; return; }
      var hits = accounts().filter(function (a) {
        return !inMatrix[String(a[0])] &&
          (String(a[2]) + ' ' + String(a[1])).toLowerCase().indexOf(needle) !== -1;
      });
      hits.slice(0, FOUND_SHOWN).forEach(function (a) {
        var item = doc.createElement('li');
        var link = doc.createElement('a');
        link.setAttribute('href', String(a[3]));
        var name = String(a[2]);
        link.textContent = name.length > 80 ? name.slice(0, 80) + '…' : name;
        item.appendChild(link);
        item.appendChild(doc.createTextNode(' ' + a[1] + ' · ' + (a[4] || 'no finding')));
        list.appendChild(item);
      });
      doc.getElementById('m-found-head').textContent = hits.length === 0
        ? 'No other account of the organization matches.'
        : hits.length + ' other account' + (hits.length === 1 ? '' : 's') + ' of the organization match' +
          (hits.length === 1 ? 'es' : '') + (hits.length > FOUND_SHOWN ? ' (the first ' + FOUND_SHOWN + ' follow)' : '') + ':';
      found.hidden = false;
    };
    var applyMatrix = function () {
      var what = show.value;
      var where = ou ? ou.value : '';
      var needle = search.value.trim().toLowerCase();
      var shown = 0;
      var total = 0;
      var inMatrix = {};
      bodies.forEach(function (b) {
        var inBody = 0;
        b.rows.forEach(function (r) {
          total++;
          var ok = (where === '' || where === b.ou) && matches(r, what) &&
            (needle === '' || textOf(r).indexOf(needle) !== -1);
          if (r.row.hidden === ok) { r.row.hidden = !ok; }
          if (ok) { inBody++; inMatrix[r.a] = true; }
        });
        b.body.hidden = inBody === 0;
        shown += inBody;
      });
      if (matrixNone) { matrixNone.hidden = shown > 0; }
      matrixResult.textContent = 'Showing ' + shown + ' of ' + total + ' accounts.';
      listFound(needle, inMatrix);
    };
    if (show.value !== 'attention' || (ou && ou.value !== '') || search.value !== '') {
      /* The browser restored the filters of an earlier visit: the rows follow them. */
      applyMatrix();
    } else {
      /* The page as written shows the default; only the count is missing. */
      var shownAtLoad = 0;
      var rowsAtLoad = 0;
      bodies.forEach(function (b) {
        rowsAtLoad += b.rows.length;
        b.rows.forEach(function (r) { if (!r.row.hidden) { shownAtLoad++; } });
      });
      matrixResult.textContent = 'Showing ' + shownAtLoad + ' of ' + rowsAtLoad + ' accounts.';
    }
    matrixForm.hidden = false;
    matrixForm.addEventListener('change', applyMatrix);
    matrixForm.addEventListener('input', applyMatrix);
    matrixForm.addEventListener('submit', function (event) { event.preventDefault(); });
    matrixForm.addEventListener('reset', function () { window.setTimeout(applyMatrix, 0); });
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
