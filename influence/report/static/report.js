/* influence report: the page's own code (MIT, part of influence).
 * It reads the data from <script type="application/json"> elements with
 * JSON.parse and writes it into the page as text, never as markup or code.
 * Third-party code in this page: DataTables (MIT) and Cytoscape.js (MIT),
 * inlined unmodified; see docs/report.md. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function data(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function esc(value) {
    return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;")
      .replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  var NUMBER = new Intl.NumberFormat("en-US", {maximumFractionDigits: 3});

  function shown(value, kind) {
    if (value === null || value === undefined) return "";
    if (kind === "num" && typeof value === "number") return NUMBER.format(value);
    return String(value);
  }

  /* CSV as influence writes its files: formula-like text cells get a leading ', and so
     do cells that start with ' (the escape stays reversible: '=x is written ''=x). */
  var FORMULA = /^[=+\-@'\t\r\n\u0000]/;

  function csvCell(value) {
    if (value === null || value === undefined) return "";
    var text = String(value);
    if (typeof value === "string" && FORMULA.test(text)) text = "'" + text;
    if (/[",\r\n]/.test(text)) text = '"' + text.replace(/"/g, '""') + '"';
    return text;
  }

  function csv(table) {
    var lines = [table.columns.map(function (c) { return csvCell(c.name); }).join(",")];
    table.rows.forEach(function (row) { lines.push(row.map(csvCell).join(",")); });
    return lines.join("\n") + "\n";
  }

  function columnClass(column) {
    if (column.kind === "num") return "num";
    if (column.name === "customer_id") return "id";
    if (column.name === "segment_reason") return "reason";
    return "";
  }

  function setUpList(box) {
    var key = box.getAttribute("data-list");
    var table = data("list-" + key);
    if (!table || !window.DataTable) return;
    new window.DataTable(box.querySelector("table"), {
      data: table.rows,
      columns: table.columns.map(function (column, i) {
        return {
          title: esc(column.name.replace(/_/g, " ")),
          data: i,
          className: columnClass(column),
          type: column.kind === "num" ? "num" : "string",
          render: function (value, type) {
            if (type === "display") return esc(shown(value, column.kind));
            if (type === "filter") return value === null ? "" : String(value);
            if (value === null) return column.kind === "num" ? -Infinity : "";
            return value;
          }
        };
      }),
      order: [],
      pageLength: 25,
      lengthMenu: [10, 25, 100, 500],
      autoWidth: false,
      deferRender: true
    });
    var link = box.querySelector("a.download");
    if (link) {
      var blob = new Blob([csv(table)], {type: "text/csv;charset=utf-8"});
      link.href = URL.createObjectURL(blob);
      link.hidden = false;
    }
  }

  var SHAPES = ["ellipse", "rectangle", "triangle", "diamond", "vee", "star"];

  function setUpNetwork() {
    var net = data("network-data");
    var container = document.getElementById("network-canvas");
    if (!net || !container || !window.cytoscape) return;
    var maxWeight = net.links.reduce(function (m, l) { return Math.max(m, l[2]); }, 0) || 1;
    var elements = net.nodes.map(function (n, i) {
      var style = net.segments[n.segment] || {color: "#FFFFFF", pattern: 0};
      return {group: "nodes", data: {
        id: "n" + i, cid: n.id, label: n.label, top: n.top ? 1 : 0, rank: n.rank,
        first: n.order !== null && n.order <= 12 ? 1 : 0,
        segment: n.segment, community: n.community, score: n.score,
        sc: style.color, cc: n.community_color, color: style.color,
        shape: SHAPES[style.pattern % SHAPES.length],
        size: 10 + 30 * Math.pow(n.score || 0, 3)
      }, position: {x: 1000 * n.x, y: -1000 * n.y}};
    });
    net.links.forEach(function (l, i) {
      elements.push({group: "edges", data: {
        id: "e" + i, source: "n" + l[0], target: "n" + l[1],
        width: 0.5 + 3.5 * Math.log1p(l[2]) / Math.log1p(maxWeight)
      }});
    });
    var cy = window.cytoscape({
      container: container,
      elements: elements,
      layout: {name: "preset", fit: true, padding: 24},
      minZoom: 0.1,
      maxZoom: 6,
      style: [
        {selector: "node", style: {"background-color": "data(color)", "shape": "data(shape)",
          "width": "data(size)", "height": "data(size)", "border-width": 0.5,
          "border-color": "#ffffff", "font-size": 14, "min-zoomed-font-size": 9,
          "text-valign": "top", "text-margin-y": -3, "color": "#202124",
          "text-background-color": "#ffffff", "text-background-opacity": 0.8}},
        {selector: "node[segment = 'suppressed']", style: {"border-color": "#777777",
          "border-width": 1}},
        {selector: "node[top = 1]", style: {"border-width": 2, "border-color": "#202124",
          "label": "data(label)", "font-size": 14, "min-zoomed-font-size": 9}},
        {selector: "node[first = 1]", style: {"font-size": 26, "min-zoomed-font-size": 7}},
        {selector: "edge", style: {"width": "data(width)", "line-color": "#9aa0a6",
          "opacity": 0.55, "curve-style": "haystack"}},
        {selector: ".faded", style: {"opacity": 0.12}},
        {selector: "node.match", style: {"border-width": 4, "border-color": "#D55E00",
          "label": "data(label)", "z-index": 10, "opacity": 1, "font-size": 26,
          "min-zoomed-font-size": 0}}
      ]
    });
    var info = document.getElementById("network-info");
    function describe(node) {
      info.textContent = "";
      [["customer_id", node.data("cid")], ["segment", node.data("segment")],
       ["influence_rank", node.data("rank")], ["influence_score", shown(node.data("score"), "num")],
       ["community", node.data("community")]].forEach(function (pair) {
        var term = document.createElement("dt");
        term.textContent = pair[0];
        var value = document.createElement("dd");
        value.textContent = pair[1] === null || pair[1] === undefined ? "" : String(pair[1]);
        info.appendChild(term);
        info.appendChild(value);
      });
    }
    cy.on("tap", "node", function (event) { describe(event.target); });
    var search = document.getElementById("network-search");
    var status = document.getElementById("network-status");
    search.addEventListener("input", function () {
      var query = search.value.trim().toLowerCase();
      cy.elements().removeClass("faded match");
      if (!query) {
        status.textContent = "";
        cy.fit(undefined, 24);
        return;
      }
      var matches = cy.nodes().filter(function (node) {
        return String(node.data("cid")).toLowerCase().indexOf(query) !== -1;
      });
      status.textContent = matches.length + " of " + cy.nodes().length + " customers match";
      if (matches.length) {
        cy.elements().not(matches).addClass("faded");
        matches.addClass("match");
        cy.fit(matches, 80);
        if (matches.length === 1) describe(matches[0]);
      }
    });
    document.getElementById("network-fit").addEventListener("click", function () {
      cy.fit(undefined, 24);
    });
    document.querySelectorAll("input[name=network-colour]").forEach(function (radio) {
      radio.addEventListener("change", function () {
        var by = radio.value;
        cy.nodes().forEach(function (node) {
          node.data("color", by === "community" ? node.data("cc") : node.data("sc"));
        });
        document.querySelectorAll("[data-legend]").forEach(function (legend) {
          legend.hidden = legend.getAttribute("data-legend") !== by;
        });
      });
    });
    window.influenceNetwork = cy;
  }

  document.querySelectorAll("[data-list]").forEach(setUpList);
  setUpNetwork();
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details.config").forEach(function (d) { d.open = true; });
  });
})();
