/**
 * The new-export wizard's client script (served at /app/assets/wizard.js). It reads the
 * catalog JSON the page embeds, builds the field rows and the filter builder, assembles the
 * export definition, and calls the back office's JSON endpoints (which call the API's
 * services). Errors come back as `{ error: { message, details: [{ path, message }] } }` and
 * are shown next to the input whose `data-path` matches (or its nearest parent).
 * Plain ES2017, no template literals (this file is itself a template literal).
 */
export const WIZARD_JS = String.raw`
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("wizard-data").textContent);
  var cat = data.catalog;
  var initial = data.initial || null;
  var editId = data.id || null;
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var form = document.getElementById("wizard");
  var step = 1;
  var uid = 0;

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k === "text") e.textContent = v;
      else if (k === "cls") e.className = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    });
    (children || []).forEach(function (c) { if (c) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function nextId(p) { uid += 1; return p + "-" + uid; }
  function labelled(labelText, input, errPath) {
    var id = input.id || nextId("in");
    input.id = id;
    var kids = [el("label", { for: id, text: labelText }), input];
    if (errPath) kids.push(errBox(errPath));
    return el("div", {}, kids);
  }
  function errBox(path) { return el("div", { cls: "field-error", "data-error-for": path, id: "err-" + path, hidden: true }); }

  function model() {
    var r = $('input[name="model"]:checked');
    return r ? cat.models.find(function (m) { return m.name === r.value; }) : null;
  }
  function fieldDef(name) {
    var m = model();
    if (!m || !name) return null;
    var head = name.split(".")[0];
    var f = m.fields.find(function (x) { return x.name === head; });
    if (!f) return null;
    if (name.indexOf(".") > 0 && f.type === "params") return { name: name, type: "param_value", values: null };
    return f;
  }

  // ------------------------------------------------------------------ steps
  function show(n) {
    step = n;
    $all("section[data-step]").forEach(function (s) { s.hidden = Number(s.getAttribute("data-step")) !== n; });
    $all("[data-step-label]").forEach(function (li) {
      var k = Number(li.getAttribute("data-step-label"));
      if (k === n) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
      li.classList.toggle("done", k < n);
    });
    $("#back").hidden = n === 1;
    $("#next").hidden = n === 3;
    $("#publish").hidden = n !== 3;
    var h = $('section[data-step="' + n + '"] h2');
    if (h) { h.setAttribute("tabindex", "-1"); h.focus(); }
    if (n === 3) refreshPreview();
  }
  $("#next").addEventListener("click", function () {
    clearErrors();
    if (step === 1) {
      var errs = [];
      if (!$("#f-name").value.trim()) errs.push({ path: "name", message: "Give the export a name" });
      if (!model()) errs.push({ path: "model", message: "Choose the data to export" });
      if (errs.length) return showErrors({ message: "Some answers are missing", details: errs });
    }
    show(step + 1);
  });
  $("#back").addEventListener("click", function () { clearErrors(); show(step - 1); });

  // ------------------------------------------------------------------ step 1: model
  function onModelChange() {
    var m = model();
    $all("[data-model-fields]").forEach(function (d) { d.hidden = !m || d.getAttribute("data-model-fields") !== m.name; });
    var sel = $("#add-field-select");
    sel.innerHTML = "";
    if (m) m.fields.forEach(function (f) { sel.appendChild(el("option", { value: f.name, text: f.name + " (" + f.type + ")" })); });
    $("#fields").innerHTML = "";
    $("#filters").innerHTML = "";
  }
  $all('input[name="model"]').forEach(function (r) { r.addEventListener("change", onModelChange); });

  // ------------------------------------------------------------------ step 2: fields
  function aggOptions(type) { return (cat.aggregationsByType[type] || cat.aggregations); }
  function addField(spec) {
    var f = fieldDef(spec.from) || { type: "string" };
    var list = $("#fields");
    var row = el("div", { cls: "fieldrow", role: "group" });
    var from = el("input", { type: "text", value: spec.from, readonly: true, "data-role": "from", size: 18 });
    var to = el("input", { type: "text", value: spec.to || "", placeholder: spec.from, "data-role": "to", size: 16 });
    var dflt = el("input", { type: "text", value: spec["default"] === undefined || spec["default"] === null ? "" : String(spec["default"]), "data-role": "default", size: 12 });
    var agg = el("select", { "data-role": "aggregation" });
    aggOptions(f.type).forEach(function (a) { agg.appendChild(el("option", { value: a, text: a })); });
    if (spec.aggregation) agg.value = spec.aggregation;
    var aggBox = labelled("Aggregation", agg);
    aggBox.setAttribute("data-agg", "1");
    aggBox.hidden = !$("#f-aggregate").checked;
    var repl = el("div", { "data-role": "replace" });
    var addRepl = el("button", { type: "button", text: "Add replacement" });
    addRepl.addEventListener("click", function () { addReplace(repl, "", ""); });
    (spec.replace || []).forEach(function (r) { addReplace(repl, r.value, r["with"]); });
    var remove = el("button", { type: "button", cls: "danger", text: "Remove", "aria-label": "Remove field " + spec.from });
    remove.addEventListener("click", function () { row.remove(); renumber(); });
    row.appendChild(labelled("From", from));
    row.appendChild(labelled("To (column header)", to));
    row.appendChild(labelled("Default when empty", dflt));
    row.appendChild(aggBox);
    row.appendChild(el("div", {}, [el("span", { cls: "small", text: "Replace values" }), repl, addRepl]));
    row.appendChild(el("div", { cls: "end" }, [remove]));
    row.appendChild(el("div", { cls: "field-error", "data-role": "err", hidden: true }));
    list.appendChild(row);
    renumber();
  }
  function addReplace(box, value, withV) {
    var line = el("div", { cls: "row", "data-role": "pair" });
    var a = el("input", { type: "text", value: value === null || value === undefined ? "" : String(value), "data-role": "value", size: 10 });
    var b = el("input", { type: "text", value: withV === null || withV === undefined ? "" : String(withV), "data-role": "with", size: 10 });
    var x = el("button", { type: "button", text: "×", "aria-label": "Remove replacement" });
    x.addEventListener("click", function () { line.remove(); renumber(); });
    line.appendChild(labelled("Value to replace", a));
    line.appendChild(labelled("New value", b));
    line.appendChild(x);
    box.appendChild(line);
    renumber();
  }
  $("#add-field").addEventListener("click", function () {
    var v = $("#add-field-select").value;
    if (v) addField({ from: v });
  });
  $("#f-aggregate").addEventListener("change", function () {
    $all("[data-agg]").forEach(function (d) { d.hidden = !$("#f-aggregate").checked; });
  });

  // ------------------------------------------------------------------ step 2: filters
  function addSet(conds) {
    var box = $("#filters");
    if (box.children.length) box.appendChild(el("div", { cls: "or", text: "or", "aria-hidden": "true" }));
    var set = el("fieldset", { cls: "set" });
    set.appendChild(el("legend", { text: "Filter set" }));
    var list = el("div", { "data-role": "conds" });
    set.appendChild(list);
    var add = el("button", { type: "button", text: "Add condition (AND)" });
    add.addEventListener("click", function () { addCond(list, {}); });
    var rm = el("button", { type: "button", cls: "danger", text: "Remove set" });
    rm.addEventListener("click", function () {
      var prev = set.previousElementSibling;
      if (prev && prev.className === "or") prev.remove();
      else if (set.nextElementSibling && set.nextElementSibling.className === "or") set.nextElementSibling.remove();
      set.remove();
      renumber();
    });
    set.appendChild(el("div", { cls: "row" }, [add, rm]));
    box.appendChild(set);
    (conds && conds.length ? conds : [{}]).forEach(function (c) { addCond(list, c); });
    renumber();
  }
  function opLabel(op) {
    return ({ eq: "equals", neq: "does not equal", gt: "greater than / after", gte: "at least / on or after", lt: "less than / before",
      lte: "at most / on or before", between: "between", "in": "is one of", not_in: "is none of", contains: "contains",
      not_contains: "does not contain", starts_with: "starts with", ends_with: "ends with", is_empty: "is empty",
      is_not_empty: "is not empty" })[op] || op;
  }
  function addCond(list, c) {
    var m = model();
    var row = el("div", { cls: "cond", role: "group" });
    var field = el("select", { "data-role": "field" });
    (m ? m.fields : []).forEach(function (f) { field.appendChild(el("option", { value: f.name, text: f.name + " (" + f.type + ")" })); });
    var key = el("input", { type: "text", "data-role": "key", placeholder: "key", size: 10 });
    var keyBox = labelled("Key", key);
    var op = el("select", { "data-role": "op" });
    var valBox = el("div", { "data-role": "valbox", cls: "vals" });
    var head = c.field ? c.field.split(".")[0] : null;
    if (head) field.value = head;
    if (c.field && c.field.indexOf(".") > 0) key.value = c.field.slice(c.field.indexOf(".") + 1);
    function fillOps() {
      var f = fieldDef(field.value) || { type: "string" };
      var kind = f.type === "params" && key.value ? "param_value" : f.type;
      keyBox.hidden = f.type !== "params";
      var keep = op.value || c.op;
      op.innerHTML = "";
      (cat.operatorsByType[kind] || []).forEach(function (o) { op.appendChild(el("option", { value: o, text: opLabel(o) })); });
      if (keep && Array.prototype.some.call(op.options, function (o) { return o.value === keep; })) op.value = keep;
      fillValue(c.value);
      c = {};
    }
    function fillValue(v) {
      valBox.innerHTML = "";
      var f = fieldDef(field.value) || { type: "string" };
      var o = op.value;
      if (o === "is_empty" || o === "is_not_empty") return;
      var hint = (f.type === "timestamp" || f.type === "date") ? "2026-01-31 or date:today -7 days" : "";
      function input(val, label, role) {
        var i;
        if (f.type === "boolean") {
          i = el("select", { "data-role": role });
          i.appendChild(el("option", { value: "true", text: "true" }));
          i.appendChild(el("option", { value: "false", text: "false" }));
          if (val !== undefined && val !== null) i.value = String(val);
        } else {
          i = el("input", { type: "text", "data-role": role, placeholder: hint, size: 22, value: val === undefined || val === null ? "" : String(val) });
          if (f.values) {
            var dl = el("datalist", { id: nextId("vals") });
            f.values.forEach(function (x) { dl.appendChild(el("option", { value: x })); });
            valBox.appendChild(dl);
            i.setAttribute("list", dl.id);
          }
        }
        valBox.appendChild(labelled(label, i));
      }
      if (o === "between") {
        input(Array.isArray(v) ? v[0] : undefined, "From", "value");
        input(Array.isArray(v) ? v[1] : undefined, "To", "value2");
      } else if (o === "in" || o === "not_in") {
        input(Array.isArray(v) ? v.join(", ") : v, "Values (comma-separated)", "value");
      } else {
        input(v, "Value", "value");
      }
    }
    field.addEventListener("change", function () { fillOps(); renumber(); });
    key.addEventListener("change", fillOps);
    op.addEventListener("change", function () { fillValue(undefined); renumber(); });
    var rm = el("button", { type: "button", cls: "danger", text: "Remove" }); rm.classList.add("end");
    rm.addEventListener("click", function () {
      var set = row.closest("fieldset");
      row.remove();
      if (set && !$all(".cond", set).length) set.querySelector("button.danger").click();
      renumber();
    });
    row.appendChild(labelled("Field", field));
    row.appendChild(keyBox);
    row.appendChild(labelled("Operator", op));
    row.appendChild(valBox);
    row.appendChild(rm);
    row.appendChild(el("div", { cls: "field-error", "data-role": "err", hidden: true }));
    list.appendChild(row);
    fillOps();
    renumber();
  }
  $("#add-set").addEventListener("click", function () { addSet([]); });

  /** Gives every dynamic input the data-path the API uses for it (fields.2.to, filters.0.1.value). */
  function renumber() {
    $all("#fields > .fieldrow").forEach(function (row, i) {
      row.setAttribute("data-path", "fields." + i);
      $all("[data-role]", row).forEach(function (inp) {
        var r = inp.getAttribute("data-role");
        if (["from", "to", "default", "aggregation"].indexOf(r) >= 0) inp.setAttribute("data-path", "fields." + i + "." + r);
      });
      var rb = $('[data-role="replace"]', row);
      rb.setAttribute("data-path", "fields." + i + ".replace");
      $all('[data-role="pair"]', rb).forEach(function (p, j) { p.setAttribute("data-path", "fields." + i + ".replace." + j); });
    });
    var sets = $all("#filters > fieldset");
    sets.forEach(function (set, i) {
      set.setAttribute("data-path", "filters." + i);
      set.querySelector("legend").textContent = "Filter set " + (i + 1) + ": every condition must match";
      $all(".cond", set).forEach(function (row, j) {
        var base = "filters." + i + "." + j;
        row.setAttribute("data-path", base);
        $('[data-role="field"]', row).setAttribute("data-path", base + ".field");
        $('[data-role="op"]', row).setAttribute("data-path", base + ".op");
        var v = $('[data-role="value"]', row);
        if (v) v.setAttribute("data-path", base + ".value");
      });
    });
  }

  // ------------------------------------------------------------------ step 3
  function onFormat() {
    var t = $("#f-format").value;
    $("#delimited-options").hidden = ["csv", "psv", "tsv"].indexOf(t) < 0;
    $("#delimiter-field").hidden = t !== "csv";
  }
  $("#f-format").addEventListener("change", onFormat);
  $("#f-encrypt").addEventListener("change", function () { $("#encryption-key").hidden = !$("#f-encrypt").checked; });
  function onSchedule() {
    var t = $("#f-schedule").value;
    $all("[data-when-schedule]").forEach(function (d) { d.hidden = d.getAttribute("data-when-schedule").split(" ").indexOf(t) < 0; });
  }
  $("#f-schedule").addEventListener("change", onSchedule);
  function labelOf(name) { var s = name.replace(/_/g, " "); return s.charAt(0).toUpperCase() + s.slice(1); }
  function onTarget(values) {
    var t = $("#f-target").value;
    var box = $("#target-fields");
    box.innerHTML = "";
    (cat.targets[t] || []).forEach(function (spec) {
      var path = "target." + spec.name;
      var id = "f-target-" + spec.name;
      var v = values && values[spec.name] !== undefined ? values[spec.name] : spec["default"];
      var input;
      if (spec.type === "boolean") {
        input = el("input", { type: "checkbox", id: id, "data-path": path, "data-type": "boolean" });
        input.checked = !!v;
        box.appendChild(el("div", { cls: "field" }, [el("label", { cls: "check" }, [input, " " + labelOf(spec.name)]), errBox(path)]));
        return;
      }
      if (spec.multiline) input = el("textarea", { id: id, "data-path": path });
      else input = el("input", { id: id, type: spec.secret ? "password" : spec.type === "number" ? "number" : "text", "data-path": path, autocomplete: "off" });
      input.setAttribute("data-type", spec.type);
      if (v !== undefined && v !== null) input.value = spec.type === "json" && typeof v === "object" ? JSON.stringify(v, null, 2) : String(v);
      if (spec.required) input.required = true;
      var kids = [el("label", { for: id, text: labelOf(spec.name) + (spec.required ? "" : " (optional)") }), input];
      if (spec.description) { var hid = nextId("hint"); kids.push(el("div", { cls: "hint", id: hid, text: spec.description })); input.setAttribute("aria-describedby", hid + " err-" + path); }
      kids.push(errBox(path));
      box.appendChild(el("div", { cls: "field" }, kids));
    });
    $("#target-test").hidden = t === "download";
    $("#test-result").textContent = "";
  }
  $("#f-target").addEventListener("change", function () { onTarget(null); });

  function collectTarget() {
    var t = { type: $("#f-target").value };
    $all("#target-fields [data-path]").forEach(function (i) {
      var k = i.getAttribute("data-path").slice(7);
      var type = i.getAttribute("data-type");
      if (type === "boolean") t[k] = i.checked;
      else if (i.value !== "" && type === "json") {
        // a pasted key file; what is not JSON goes as text, and the API names the field
        try { t[k] = JSON.parse(i.value); } catch (e) { t[k] = i.value; }
      }
      else if (i.value !== "") t[k] = type === "number" ? Number(i.value) : i.value;
    });
    return t;
  }

  // ------------------------------------------------------------------ the definition
  function scalar(s, type) {
    if (s === "") return "";
    if ((type === "integer" || type === "float") && s.trim() !== "" && !isNaN(Number(s))) return Number(s);
    if (type === "boolean" && (s === "true" || s === "false")) return s === "true";
    return s;
  }
  function collect() {
    var m = model();
    var def = {};
    if (initial) Object.keys(initial).forEach(function (k) { def[k] = initial[k]; });
    def.name = $("#f-name").value.trim();
    def.model = m ? m.name : "";
    def.timezone = $("#f-timezone").value.trim() || "UTC";
    def.aggregate = $("#f-aggregate").checked;
    def.incremental = $("#f-incremental").checked;
    def.all_fields = $("#f-all_fields").checked;
    def.fields = $all("#fields > .fieldrow").map(function (row) {
      var from = $('[data-role="from"]', row).value;
      var f = fieldDef(from) || { type: "string" };
      var spec = { from: from };
      var to = $('[data-role="to"]', row).value.trim();
      if (to) spec.to = to;
      var d = $('[data-role="default"]', row).value;
      if (d !== "") spec["default"] = scalar(d, f.type);
      if (def.aggregate) spec.aggregation = $('[data-role="aggregation"]', row).value;
      var pairs = $all('[data-role="pair"]', row).map(function (p) {
        return { value: scalar($('[data-role="value"]', p).value, f.type), "with": $('[data-role="with"]', p).value };
      });
      if (pairs.length) spec.replace = pairs;
      // txt column widths are set through the API; keep them when the draft is edited here
      var before = initial && initial.fields ? initial.fields.filter(function (x) { return x.from === from && x.width; })[0] : null;
      if (before && $("#f-format").value === "txt") spec.width = before.width;
      return spec;
    });
    def.filters = $all("#filters > fieldset").map(function (set) {
      return $all(".cond", set).map(function (row) {
        var name = $('[data-role="field"]', row).value;
        var key = $('[data-role="key"]', row).value.trim();
        var f = fieldDef(name) || { type: "string" };
        var c = { field: f.type === "params" && key ? name + "." + key : name, op: $('[data-role="op"]', row).value };
        var kind = f.type === "params" && key ? "string" : f.type;
        var v = $('[data-role="value"]', row);
        var v2 = $('[data-role="value2"]', row);
        if (c.op === "between") c.value = [scalar(v.value, kind), scalar(v2.value, kind)];
        else if (c.op === "in" || c.op === "not_in") c.value = v.value.split(",").map(function (x) { return scalar(x.trim(), kind); }).filter(function (x) { return x !== ""; });
        else if (v) c.value = scalar(v.value, kind);
        return c;
      });
    }).filter(function (s) { return s.length; });
    var ft = $("#f-format").value;
    var format = { type: ft };
    if (["csv", "psv", "tsv"].indexOf(ft) >= 0) {
      if (ft === "csv" && $("#f-delimiter").value) format.delimiter = $("#f-delimiter").value;
      format.enclosure = $("#f-enclosure").value;
      format.newline = $("#f-newline").value === "crlf" ? "\r\n" : "\n";
      format.header = $("#f-header").checked;
      format.bom = $("#f-bom").checked;
      format.formula_protection = $("#f-formula").checked;
    }
    def.format = format;
    def.compression = $("#f-compression").value;
    if ($("#f-encrypt").checked) def.encryption = { type: "pgp", public_key: $("#f-public-key").value };
    else delete def.encryption;
    var st = $("#f-schedule").value;
    var sched = { type: st };
    if (st === "once") sched.at = $("#f-at").value ? $("#f-at").value + (($("#f-at").value.length === 16) ? ":00Z" : "Z") : "";
    if (st === "daily" || st === "weekly" || st === "monthly") sched.time = $("#f-time").value;
    if (st === "weekly") sched.days = $all('input[name="weekday"]:checked').map(function (i) { return Number(i.value); });
    if (st === "monthly") sched.days = $("#f-monthdays").value.split(",").map(function (x) { x = x.trim(); return x === "last" ? "last" : Number(x); }).filter(function (x) { return x === "last" || x > 0; });
    def.schedule = sched;
    def.target = collectTarget();
    def.retention_days = Number($("#f-retention").value || 7);
    return def;
  }

  // ------------------------------------------------------------------ errors
  function clearErrors() {
    var box = $("#form-errors");
    box.hidden = true;
    box.innerHTML = "";
    $all("[data-error-for], .fieldrow > [data-role=err], .cond > [data-role=err]").forEach(function (e) { e.hidden = true; e.textContent = ""; });
    $all('[aria-invalid="true"]').forEach(function (e) { e.removeAttribute("aria-invalid"); });
  }
  /** The element for an API path: the input with that data-path, else the nearest parent path. */
  function findTarget(path) {
    var parts = String(path || "").split(".");
    while (parts.length) {
      var p = parts.join(".");
      var t = form.querySelector('[data-path="' + p.replace(/"/g, "") + '"]');
      if (t) return { el: t, path: p };
      parts.pop();
    }
    return null;
  }
  /** "filters.0.1.value" -> "Filter set 1, condition 2: value" (for people, never raw JSON). */
  function humanPath(path) {
    var p = String(path || "").split(".");
    var out = [];
    for (var i = 0; i < p.length; i++) {
      var k = p[i], n = p[i + 1];
      if (k === "filters" && /^\d+$/.test(n || "")) { out.push("filter set " + (Number(n) + 1)); i++; if (/^\d+$/.test(p[i + 1] || "")) { out.push("condition " + (Number(p[i + 1]) + 1)); i++; } }
      else if (k === "fields" && /^\d+$/.test(n || "")) { out.push("field " + (Number(n) + 1)); i++; }
      else if (k !== "(body)") out.push(k.replace(/_/g, " "));
    }
    var s = out.join(", ");
    return s ? s.charAt(0).toUpperCase() + s.slice(1) : "";
  }
  function showErrors(err, stay) {
    var details = (err && err.details) || [];
    var unplaced = [];
    var first = null;
    details.forEach(function (d) {
      var t = findTarget(d.path);
      if (!t) { unplaced.push(d); return; }
      var box = form.querySelector('[data-error-for="' + t.path + '"]');
      if (!box) {
        var holder = t.el.closest(".fieldrow, .cond");
        box = holder ? holder.querySelector('[data-role="err"]') : null;
      }
      if (!box) { unplaced.push(d); return; }
      box.hidden = false;
      // Messages may start with their own field name ("name: letters, ..."); next to the field it is noise.
      var last = String(d.path).split(".").pop();
      var msg = d.message.indexOf(last + ": ") === 0 ? d.message.slice(last.length + 2) : d.message;
      msg = msg.charAt(0).toUpperCase() + msg.slice(1);
      box.textContent = box.textContent ? box.textContent + " " + msg : msg;
      if (["INPUT", "SELECT", "TEXTAREA"].indexOf(t.el.tagName) >= 0) {
        t.el.setAttribute("aria-invalid", "true");
        if (!box.id) box.id = nextId("err");
        var desc = (t.el.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
        if (desc.indexOf(box.id) < 0) { desc.push(box.id); t.el.setAttribute("aria-describedby", desc.join(" ")); }
      }
      if (!first) first = t.el;
    });
    var summary = $("#form-errors");
    summary.innerHTML = "";
    summary.appendChild(el("p", { text: details.length ? "Please correct the marked fields." : (err && err.message) || "Something went wrong." }));
    if (unplaced.length) {
      var ul = el("ul");
      unplaced.forEach(function (d) { ul.appendChild(el("li", { text: (d.path && d.path !== "(body)" ? d.path + ": " : "") + d.message })); });
      summary.appendChild(ul);
    }
    summary.hidden = false;
    if (stay) return;
    if (first) {
      var sec = first.closest("section[data-step]");
      if (sec && Number(sec.getAttribute("data-step")) !== step) show(Number(sec.getAttribute("data-step")));
      first.focus();
    } else summary.focus();
  }

  function send(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (r.status === 401) { location.href = "/app"; throw new Error("signed out"); }
        if (!r.ok) { var e = (j && j.error) || { message: "HTTP " + r.status }; e.status = r.status; throw e; }
        return j;
      });
    });
  }

  // A name that is already taken comes back as a conflict without details: it is about the name.
  function placeConflict(e) {
    if (e && e.code === "conflict" && !e.details && /named/.test(e.message)) e.details = [{ path: "name", message: e.message }];
    return e;
  }

  function save(publish) {
    clearErrors();
    var def = collect();
    def.status = publish ? "active" : "draft";
    var btns = [$("#save-draft"), $("#publish")];
    btns.forEach(function (b) { b.disabled = true; });
    send(editId ? "PUT" : "POST", editId ? "/app/exports/" + editId : "/app/exports", def)
      .then(function (r) {
        location.href = "/app/exports/" + r.id + "?notice=" + (publish ? "published" : "draft");
      })
      .catch(function (e) { showErrors(placeConflict(e)); })
      .then(function () { btns.forEach(function (b) { b.disabled = false; }); });
  }
  $("#save-draft").addEventListener("click", function () { save(false); });
  $("#publish").addEventListener("click", function () { save(true); });

  var previewSeq = 0;
  function refreshPreview() {
    var box = $("#preview");
    var seq = ++previewSeq;
    box.innerHTML = "";
    box.appendChild(el("p", { cls: "muted", text: "Reading the first rows…" }));
    send("POST", "/app/exports/preview", collect())
      .then(function (p) {
        if (seq !== previewSeq) return;
        box.innerHTML = "";
        box.appendChild(el("p", {}, [el("strong", { text: p.row_count.toLocaleString("en-US") + " rows" }),
          " would be exported now; the first " + Math.min(20, p.rows.length) + " as the file holds them (before archive and encryption):"]));
        if (p.text !== null) box.appendChild(el("pre", { cls: "preview", tabindex: "0", "aria-label": "File preview", text: p.text }));
        var table = el("table", {}, [el("caption", { cls: "sr-only", text: "Preview rows" })]);
        var tr = el("tr");
        p.columns.forEach(function (c) { tr.appendChild(el("th", { text: c })); });
        table.appendChild(el("thead", {}, [tr]));
        var tb = el("tbody");
        p.rows.forEach(function (r) {
          var row = el("tr");
          p.columns.forEach(function (c) { row.appendChild(el("td", { text: r[c] === null ? "" : String(r[c]) })); });
          tb.appendChild(row);
        });
        table.appendChild(tb);
        if (p.text === null) box.appendChild(table);
      })
      .catch(function (e) {
        if (seq !== previewSeq) return;
        box.innerHTML = "";
        box.appendChild(el("p", { cls: "error", text: "No preview yet: " + (e.details && e.details.length ? "correct these first." : e.message || "error") }));
        if (e.details) {
          var ul = el("ul", { cls: "error" });
          e.details.forEach(function (d) { ul.appendChild(el("li", { text: (humanPath(d.path) ? humanPath(d.path) + ": " : "") + d.message })); });
          box.appendChild(ul);
          showErrors(e, true);
          $("#form-errors").hidden = true;
        }
      });
  }
  $("#refresh-preview").addEventListener("click", function () { clearErrors(); refreshPreview(); });

  $("#test-connection").addEventListener("click", function () {
    var out = $("#test-result");
    out.textContent = "Connecting…";
    clearErrors();
    send("POST", "/app/targets/test", collectTarget())
      .then(function () { out.textContent = "✔ Connected: the target accepted the credentials."; out.className = ""; })
      .catch(function (e) {
        out.textContent = "✘ " + (e.message || "failed");
        out.className = "error";
        if (e.details && e.status === 400) showErrors({ message: e.message, details: e.details.map(function (d) { return { path: "target." + d.path, message: d.message }; }) });
      });
  });

  // ------------------------------------------------------------------ start
  try {
    var tz = (Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : []);
    var dl = $("#tz-list");
    ["UTC"].concat(tz).forEach(function (z) { dl.appendChild(el("option", { value: z })); });
  } catch (e) { /* a text field is enough */ }

  if (initial) {
    $("#f-name").value = initial.name || "";
    var radio = $('input[name="model"][value="' + initial.model + '"]');
    if (radio) { radio.checked = true; }
    onModelChange();
    $("#f-timezone").value = initial.timezone || "UTC";
    $("#f-aggregate").checked = !!initial.aggregate;
    $("#f-incremental").checked = !!initial.incremental;
    $("#f-all_fields").checked = !!initial.all_fields;
    (initial.fields || []).forEach(addField);
    (initial.filters || []).forEach(function (s) { addSet(s); });
    var f = initial.format || { type: "csv" };
    $("#f-format").value = f.type;
    if (f.delimiter) $("#f-delimiter").value = f.delimiter;
    if (f.enclosure !== undefined) $("#f-enclosure").value = f.enclosure;
    $("#f-newline").value = f.newline === "\r\n" ? "crlf" : "lf";
    if (f.header !== undefined) $("#f-header").checked = f.header;
    if (f.bom !== undefined) $("#f-bom").checked = f.bom;
    if (f.formula_protection !== undefined) $("#f-formula").checked = f.formula_protection;
    $("#f-compression").value = initial.compression || "none";
    if (initial.encryption) { $("#f-encrypt").checked = true; $("#encryption-key").hidden = false; $("#f-public-key").value = initial.encryption.public_key; }
    var s = initial.schedule || { type: "now" };
    $("#f-schedule").value = s.type;
    if (s.at) $("#f-at").value = String(s.at).slice(0, 16);
    if (s.time) $("#f-time").value = s.time;
    if (s.type === "weekly") $all('input[name="weekday"]').forEach(function (i) { i.checked = s.days.indexOf(Number(i.value)) >= 0; });
    if (s.type === "monthly") $("#f-monthdays").value = s.days.join(", ");
    $("#f-retention").value = initial.retention_days || 7;
    $("#f-target").value = (initial.target && initial.target.type) || "download";
    onTarget(initial.target);
  } else {
    onTarget(null);
  }
  onFormat();
  onSchedule();
})();
`;
